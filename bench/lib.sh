# Helpers the bench scripts share; sourced after `cd` to the repository root.

# redis-benchmark --csv on stdin as "TEST ops/s" lines: the header dropped, "LPUSH (needed to benchmark LPOP)"
# shortened to its first word; lines that are not CSV (cluster mode's messages) are skipped.
csv_rates() {
    { grep '^"' || true; } | tail -n +2 | tr -d '"' | awk -F, '{split($1, a, " "); print a[1], $2}'
}

# The header of print_ratios' table.
ratio_header() {
    printf "%-8s %-3s %14s %14s %8s\n" test -P "redis ops/s" "shoal ops/s" ratio
}

# One table row per test found in both files of csv_rates lines: $1 Redis', $2 Shoal's, $3 the -P they ran at.
print_ratios() {
    join <(sort "$1") <(sort "$2") | while read -r t r s; do
        awk -v t="$t" -v p="$3" -v r="$r" -v s="$s" 'BEGIN { printf "%-8s %-3s %14.0f %14.0f %8.2f\n", t, p, r, s, s / r }'
    done
}
