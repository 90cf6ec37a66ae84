package io.github.tflitelowrank.demo.core

import java.util.Locale

/** One row of the side-by-side table: a metric and one cell per model. */
data class ReportRow(val metric: String, val cells: List<String>)

/**
 * Formats a [BenchmarkReport] as the rows the benchmark screen shows (the Markdown export
 * is [MarkdownReport]). Numbers use
 * `Locale.ROOT` so that the table reads the same on every phone and in tests.
 */
object ReportTable {
    fun header(report: BenchmarkReport): List<String> = listOf("") + report.models.map { it.key }

    fun rows(report: BenchmarkReport, manifest: Manifest? = null): List<ReportRow> {
        val models = report.models
        val baselineSize = models.first().fileSizeBytes
        val rows = mutableListOf<ReportRow>()
        if (manifest != null) {
            rows += ReportRow("Embedding", models.map { describeModel(manifest.models[it.key]) })
        }
        rows += ReportRow("File size", models.map { formatBytes(it.fileSizeBytes) })
        rows += ReportRow(
            "Size vs ${models.first().key}",
            models.map { formatPercent(it.fileSizeBytes.toDouble() / baselineSize) },
        )
        rows += ReportRow("Load", models.map { formatDuration(it.loadMillis) })
        rows += ReportRow("First inference", models.map { formatDuration(it.firstInferenceMillis) })
        rows += ReportRow("Latency p50", models.map { formatDuration(it.latency.p50Millis) })
        rows += ReportRow("Latency p90", models.map { formatDuration(it.latency.p90Millis) })
        rows += ReportRow("Latency mean", models.map { formatDuration(it.latency.meanMillis) })
        rows += ReportRow("p50 by pass", models.map { m -> m.passP50Millis.joinToString(" / ") { formatDuration(it) } })
        rows += ReportRow("Timed runs", models.map { "${it.latency.count}" })
        rows += ReportRow("Memory Δ", models.map { m -> m.memoryDeltaBytes?.let { formatSignedBytes(it) } ?: "n/a" })
        rows += ReportRow("Accuracy", models.map { formatRatio(it.accuracy) })
        rows += ReportRow(
            "Agreement",
            models.mapIndexed { i, m -> if (i == 0) "—" else report.agreement[m.key]?.let(::formatRatio) ?: "n/a" },
        )
        return rows
    }

    fun describeModel(entry: ModelEntry?): String {
        if (entry == null) return "?"
        val rank = entry.rank?.let { "rank $it" } ?: "full"
        return "$rank, ${entry.quantization ?: "float32"}"
    }

    fun formatBytes(bytes: Long): String = when {
        bytes < 1024 -> "$bytes B"
        bytes < 1024 * 1024 -> String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0)
        else -> String.format(Locale.ROOT, "%.2f MiB", bytes / (1024.0 * 1024.0))
    }

    fun formatSignedBytes(bytes: Long): String = (if (bytes >= 0) "+" else "-") + formatBytes(kotlin.math.abs(bytes))

    /** A duration given in milliseconds: `3.3 µs` below 1 ms, `12.35 ms`, `250 ms`. */
    fun formatDuration(millis: Double): String = when {
        millis < 1.0 -> String.format(Locale.ROOT, "%.1f µs", millis * 1000)
        millis < 100.0 -> String.format(Locale.ROOT, "%.2f ms", millis)
        else -> String.format(Locale.ROOT, "%.0f ms", millis)
    }

    fun formatPercent(share: Double): String = String.format(Locale.ROOT, "%.1f %%", share * 100)

    fun formatRatio(ratio: Ratio): String = "${formatPercent(ratio.value)} (${ratio.hits}/${ratio.total})"
}
