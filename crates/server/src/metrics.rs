//! Measurements for `INFO`: instantaneous rates sampled in the background (Redis' `trackInstantaneousMetric`,
//! every 100 ms, averaged over 16 samples), peak memory, and what the operating system says about the process.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::node::Node;

/// Samples kept per rate (Redis' STATS_METRIC_SAMPLES).
const SAMPLES: usize = 16;
/// Sampling period (Redis samples in `serverCron` every 100 ms).
const PERIOD: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Series {
    samples: [u64; SAMPLES],
    idx: usize,
    last_time: Option<Instant>,
    last_count: u64,
}

impl Series {
    fn track(&mut self, now: Instant, count: u64) {
        let per_sec = match self.last_time {
            Some(t) => {
                let ms = now.duration_since(t).as_millis() as u64;
                // A counter reset by CONFIG RESETSTAT reads as no activity, not as a huge rate.
                let delta = count.saturating_sub(self.last_count);
                delta.saturating_mul(1000).checked_div(ms).unwrap_or(0)
            }
            None => 0,
        };
        self.samples[self.idx] = per_sec;
        self.idx = (self.idx + 1) % SAMPLES;
        self.last_time = Some(now);
        self.last_count = count;
    }

    fn mean(&self) -> u64 {
        self.samples.iter().sum::<u64>() / SAMPLES as u64
    }
}

#[derive(Default)]
struct Inner {
    commands: Series,
    net_input: Series,
    net_output: Series,
    peak_memory: usize,
}

/// Instantaneous rates and the memory peak.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Takes one sample of the node's counters.
    pub fn sample(&self, node: &Node) {
        let now = Instant::now();
        let s = &node.stats;
        let mut m = self.inner.lock();
        m.commands
            .track(now, s.total_commands_processed.load(Ordering::Relaxed));
        m.net_input
            .track(now, s.total_net_input_bytes.load(Ordering::Relaxed));
        m.net_output
            .track(now, s.total_net_output_bytes.load(Ordering::Relaxed));
        m.peak_memory = m.peak_memory.max(crate::alloc::allocated());
    }

    /// `instantaneous_ops_per_sec`.
    pub fn ops_per_sec(&self) -> u64 {
        self.inner.lock().commands.mean()
    }

    /// `instantaneous_input_kbps`.
    pub fn input_kbps(&self) -> f64 {
        self.inner.lock().net_input.mean() as f64 / 1024.0
    }

    /// `instantaneous_output_kbps`.
    pub fn output_kbps(&self) -> f64 {
        self.inner.lock().net_output.mean() as f64 / 1024.0
    }

    /// `used_memory_peak`: the highest `used_memory` seen, including `current`.
    pub fn peak_memory(&self, current: usize) -> usize {
        let mut m = self.inner.lock();
        m.peak_memory = m.peak_memory.max(current);
        m.peak_memory
    }

    /// Forgets the rate samples (`CONFIG RESETSTAT`); the memory peak is kept, as in Redis.
    pub fn reset_rates(&self) {
        let mut m = self.inner.lock();
        m.commands = Series::default();
        m.net_input = Series::default();
        m.net_output = Series::default();
    }
}

/// Samples the node's rates every 100 ms until the task is aborted.
pub async fn sampler(node: Arc<Node>) {
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        node.metrics.sample(&node);
    }
}

/// Redis' `bytesToHuman`: `100B`, `1.50K`, `2.00M`, ...
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u32, char); 5] = [(1, 'K'), (2, 'M'), (3, 'G'), (4, 'T'), (5, 'P')];
    if n < 1024 {
        return format!("{n}B");
    }
    for (exp, unit) in UNITS {
        if (n as u128) < 1024u128.pow(exp + 1) {
            return format!("{:.2}{unit}", n as f64 / 1024f64.powi(exp as i32));
        }
    }
    format!("{n}B")
}

/// Facts about the process and the machine, read from the operating system.
pub mod process {
    /// The system page size in bytes.
    pub fn page_size() -> u64 {
        // SAFETY: sysconf has no preconditions.
        let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if v > 0 {
            v as u64
        } else {
            4096
        }
    }

    /// Resident set size in bytes (`/proc/self/statm`, as Redis' `zmalloc_get_rss`), 0 if unavailable.
    pub fn rss_bytes() -> u64 {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |pages| pages * page_size())
    }

    /// Physical memory of the machine in bytes, 0 if unknown.
    pub fn total_system_memory() -> u64 {
        // SAFETY: sysconf has no preconditions.
        let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
        if pages > 0 {
            pages as u64 * page_size()
        } else {
            0
        }
    }

    /// CPU time as `(system, user)` in microseconds, for this process or (with `children`) its reaped children.
    pub fn cpu_usec(children: bool) -> (u64, u64) {
        let who = if children {
            libc::RUSAGE_CHILDREN
        } else {
            libc::RUSAGE_SELF
        };
        // SAFETY: `ru` is a valid, writable rusage for the call to fill.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut ru) } != 0 {
            return (0, 0);
        }
        let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        (us(ru.ru_stime), us(ru.ru_utime))
    }

    /// `sysname release machine`, as `uname -srm` prints them.
    pub fn os() -> String {
        // SAFETY: `u` is a valid, writable utsname for the call to fill; the fields it fills are NUL-terminated.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut u) } != 0 {
            return std::env::consts::OS.to_string();
        }
        let field = |f: &[libc::c_char]| {
            let bytes: Vec<u8> = f
                .iter()
                .take_while(|c| **c != 0)
                .map(|c| *c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        format!(
            "{} {} {}",
            field(&u.sysname),
            field(&u.release),
            field(&u.machine)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_match_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(1536), "1.50K");
        assert_eq!(bytes_to_human(3 * 1024 * 1024), "3.00M");
        assert_eq!(bytes_to_human(5 << 30), "5.00G");
        assert_eq!(bytes_to_human(2 << 40), "2.00T");
    }

    #[test]
    fn rates_average_sixteen_samples() {
        let mut s = Series::default();
        let t0 = Instant::now();
        s.track(t0, 0);
        s.track(t0 + Duration::from_millis(100), 100);
        // One sample of 1000/s among sixteen.
        assert_eq!(s.mean(), 1000 / 16);
        // A counter reset does not underflow.
        s.track(t0 + Duration::from_millis(200), 0);
        assert_eq!(s.mean(), 1000 / 16);
    }

    #[test]
    fn process_facts_are_plausible() {
        assert!(process::rss_bytes() > 0);
        assert!(process::total_system_memory() > 0);
        // Burning CPU must show up in getrusage within a couple of seconds.
        let (sys, user) = process::cpu_usec(false);
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut x = 0u64;
        loop {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_add(i * i));
            }
            let (sys2, user2) = process::cpu_usec(false);
            if sys2 + user2 > sys + user {
                break;
            }
            assert!(Instant::now() < deadline, "CPU time never advanced");
        }
        assert!(!process::os().is_empty());
    }
}
