//! Double formatting. PLACEHOLDER: API contract only.

/// Formats as C's `%.17g` (`inf`, `-inf` for infinities), as Redis 7.0 replies doubles.
pub fn format_double(v: f64) -> String {
    format!("{v}")
}
