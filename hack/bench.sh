#!/usr/bin/env bash
# Runs the Go benchmarks of the domain packages and prints each one beside its baseline from the
# same run, as a ratio of times (these machines are noisy; absolute figures move, ratios much
# less), and the median throughput or time ratio of the benchmarks that time both within each
# op (the machine's noise then falls on both alike).
#   hack/bench.sh [COUNT] [REGEXP] [PACKAGE...]   (default 5 runs of each benchmark, the median
#   is used; all benchmarks; the packages under ./internal/). The store's aggregation benchmark
#   first generates a 1,000,000-response wave in SQLite and in PostgreSQL
#   (SURVEY_BENCH_RESPONSES to change it): several minutes.
#   A benchmark that reports ratios of its own (any metric whose unit holds "ratio") gets the
#   median of each of its metrics printed too, for example the sender's binaries reading the
#   audience from a real S3 server (issue 30, about 15 minutes):
#     hack/bench.sh 5 'SenderS3AgainstDisk1M|ShardsFromS3' ./cmd/sender/
#   SURVEY_BENCH_TIME is go test's -benchtime (1s by default; 10x runs ten ops in each run).
#   SURVEY_BENCH_SCALE=1 also runs the two benchmarks at scale, figures in their log lines:
#   - BenchmarkThousandCampaigns: kube-controller-manager's CronJob controller (built once by
#     hack/k8s-build.sh) with 1,000 CronJobs due at the same two minutes, at its own client
#     budget and at the manager's, then the manager with 1,000 campaigns due at the same two
#     minutes, on the same envtest apiserver (BENCH_CAMPAIGNS, BENCH_GAP=3m, BENCH_SETTLE=10m,
#     BENCH_KCM_BUDGETS): about 35 minutes;
#   - BenchmarkMillionInvitations: waves of 10,000, 100,000 and 1,000,000 invitations through
#     the sender and response service binaries, SQLite and an SMTP sink (BENCH_INVITATIONS):
#     about 10 minutes.
#   hack/bench.sh scale [ThousandCampaigns|MillionInvitations] runs only those (default both).
#   BENCH_SMALL=1 shrinks every large benchmark's data set (the 1M audiences and waves, the
#   million invitations, the thousand campaigns): make bench-smoke runs each benchmark once so,
#   to check that none has stopped running; its figures are not measurements.
set -euo pipefail
cd "$(dirname "$0")/.."
scale() {
	case "$1" in
	ThousandCampaigns) KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)" go test -run '^$' -bench ThousandCampaigns -benchtime 1x -timeout 90m ./cmd/manager/ ;;
	MillionInvitations) go test -run '^$' -bench MillionInvitations -benchtime 1x -timeout 90m ./cmd/sender/ ;;
	*) echo "unknown benchmark at scale: $1" >&2; exit 2 ;;
	esac
}
if [ "${1:-}" = scale ]; then
	for b in ${2:-ThousandCampaigns MillionInvitations}; do scale "$b"; done
	exit 0
fi
count=${1:-5}
pattern=${2:-.}
shift $(($# < 2 ? $# : 2))
packages=("${@:-./internal/...}")
out=$(mktemp)
go test -run '^$' -bench "$pattern" -benchmem -count "$count" -benchtime "${SURVEY_BENCH_TIME:-1s}" -timeout 120m "${packages[@]}" | tee "$out"
if [ "${SURVEY_BENCH_SCALE:-}" = 1 ]; then
	scale ThousandCampaigns
	scale MillionInvitations
fi
echo
echo "ratios to baselines (median ns/op):"
pairs="BenchmarkNext:BenchmarkBaselineRobfigNext BenchmarkDueAfterLongOutage:BenchmarkBaselineDueNaive"
pairs="$pairs BenchmarkSendWithLedger:BenchmarkBaselineBareSMTP BenchmarkSendWithLedgerNarrowWindow:BenchmarkBaselineBareSMTP BenchmarkSendWithLedgerRelay:BenchmarkBaselineParallelSMTPRelay BenchmarkScanSelect1MRows:BenchmarkBaselineCSVRead1MRows"
for db in sqlite postgres; do
	pairs="$pairs BenchmarkSummarize1M/$db:BenchmarkBaselineCountScan1M/$db BenchmarkSummarizeByScan1M/$db:BenchmarkBaselineCountScan1M/$db"
	pairs="$pairs BenchmarkExport1M/$db:BenchmarkBaselineCountScan1M/$db"
	pairs="$pairs BenchmarkDurableResponsesHTTP/$db:BenchmarkBaselineInsertCommit/$db"
	pairs="$pairs BenchmarkDurableEventsHTTP/$db:BenchmarkBaselineInsertCommitEvents/$db"
done
awk -v pairs="$pairs" '
	/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name); v[name] = v[name] " " $3
		for (i = 4; i < NF; i++) {
			if ($(i + 1) == "throughput-ratio") paired[name] = paired[name] " " $i
			if ($(i + 1) == "time-ratio") timed[name] = timed[name] " " $i
		}
		# Every metric after ns/op, by benchmark and unit, for those that report ratios of their own.
		for (i = 5; i < NF; i += 2) {
			u = $(i + 1)
			if (u == "B/op" || u == "allocs/op" || u == "MB/s") continue
			if (!((name, u) in metric)) units[name] = units[name] " " u
			metric[name, u] = metric[name, u] " " $i
			if (u ~ /ratio/) ratios[name] = 1
		}
	}
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		np = split(pairs, p, " ")
		for (k = 1; k <= np; k++) {
			split(p[k], ab, ":")
			if (!(ab[1] in v) || !(ab[2] in v)) continue
			a = median(v[ab[1]]); b = median(v[ab[2]])
			printf "  %-38s %14.0f ns/op   %-40s %14.0f ns/op   ratio %.3f\n", ab[1], a, ab[2], b, a / b
		}
		for (name in paired) printf "  %-38s throughput against its baseline, both in each op: median %.3f (runs:%s)\n", name, median(paired[name]), paired[name]
		for (name in timed) printf "  %-38s time against its baseline, both in each op: median %.3f (runs:%s)\n", name, median(timed[name]), timed[name]
		for (name in ratios) {
			printf "\n%s, median of each metric:\n", name
			nu = split(units[name], us, " ")
			for (a = 1; a <= nu; a++) for (c = a + 1; c <= nu; c++) if (us[c] < us[a]) { t = us[a]; us[a] = us[c]; us[c] = t }
			for (a = 1; a <= nu; a++) {
				m = median(metric[name, us[a]])
				printf "  %-36s %12s", us[a], (m >= 1000 ? sprintf("%.0f", m) : sprintf("%.4g", m))
				if (us[a] ~ /ratio/) printf " (runs:%s)", metric[name, us[a]]
				printf "\n"
			}
		}
	}' "$out"
rm -f "$out"
