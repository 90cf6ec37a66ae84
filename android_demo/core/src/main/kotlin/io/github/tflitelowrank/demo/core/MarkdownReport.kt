package io.github.tflitelowrank.demo.core

/**
 * The benchmark results as Markdown, for the share and copy buttons.
 *
 * The main table has the columns, number formats and reference marking of
 * `tflite-lowrank compare` (`Comparison.to_markdown` in `tflite_lowrank/_benchmark_results.py`),
 * and its rows are named by file, as `compare` names them when run on the exported assets;
 * so a phone's table and a desktop's can be pasted side by side. The first model is the
 * reference. A second table adds what `compare` keeps in its JSON (p90, mean, first
 * inference) and what only the phone has (p50 of each pass). Above them: the device, OS,
 * ABI, runtime, threads and what was timed.
 */
object MarkdownReport {
    /** The header of `tflite-lowrank compare`'s table, column for column. */
    const val COMPARE_HEADER: String =
        "| model | size (KB) | size ratio | accuracy | Δ accuracy | p50 latency (ms) | latency ratio | " +
            "agreement | load (ms) | model memory (MB) |"

    fun render(
        report: BenchmarkReport,
        manifest: Manifest? = null,
        device: DeviceInfo? = null,
        /** When the run ended, e.g. an ISO-8601 time; left out when null. */
        measuredAt: String? = null,
    ): String {
        val lines = ArrayList<String>()
        lines += "## On-device benchmark: ${report.models.joinToString(" vs ") { it.key }}"
        lines += ""
        lines += "| | |"
        lines += "|---|---|"
        device?.lines()?.forEach { (label, value) -> lines += "| $label | ${cell(value)} |" }
        lines += "| Test set | ${report.numExamples} sentences, ${describeSchedule(report)}, " +
            "${report.config.warmupRuns} warm-up runs per model |"
        lines += "| Latency | ${cell(describeTiming(report.timing))} |"
        manifest?.createdBy?.let { lines += "| Assets | ${cell(it)} |" }
        measuredAt?.let { lines += "| Measured | ${cell(it)} |" }
        lines += ""
        lines += compareTable(report, manifest)
        lines += ""
        lines += detailTable(report, manifest)
        lines += ""
        lines += "Load: mapping the file, creating the interpreter (XNNPACK applied) and allocating its tensors. " +
            "Model memory: change of the process PSS across load and warm-up (the desktop reports peak RSS). " +
            "Percentiles interpolate linearly, as numpy does."
        return lines.joinToString("\n") + "\n"
    }

    /** The table of `tflite-lowrank compare`: header, separator, one row per model. */
    fun compareTable(report: BenchmarkReport, manifest: Manifest? = null): String {
        val reference = report.models.first()
        val lines = arrayListOf(COMPARE_HEADER, "|" + "---|".repeat(10))
        for ((index, model) in report.models.withIndex()) {
            val name = name(model, manifest)
            val accuracy = model.accuracy.value
            val agreement = if (index == 0) 1.0 else report.agreement[model.key]?.value
            lines += "| ${if (index == 0) "$name (reference)" else name} | " +
                "${PyFormat.fixed(model.fileSizeBytes / 1024.0, 1)} | " +
                "${PyFormat.fixed(model.fileSizeBytes.toDouble() / reference.fileSizeBytes, 3)} | " +
                "${PyFormat.percent(accuracy)} | " +
                "${PyFormat.signed(100 * (accuracy - reference.accuracy.value), 2)} pt | " +
                "${PyFormat.general(model.latency.p50Millis, 4)} | " +
                "${PyFormat.fixed(model.latency.p50Millis / reference.latency.p50Millis, 2)} | " +
                "${agreement?.let { PyFormat.percent(it) } ?: "n/a"} | " +
                "${PyFormat.fixed(model.loadMillis, 1)} | " +
                "${model.memoryDeltaBytes?.let { PyFormat.fixed(it / 1048576.0, 1) } ?: "n/a"} |"
        }
        return lines.joinToString("\n")
    }

    /** Latency spread and first inference per model. */
    fun detailTable(report: BenchmarkReport, manifest: Manifest? = null): String {
        val lines = arrayListOf(
            "| model | p50 (ms) | p90 (ms) | mean (ms) | min (ms) | max (ms) | p50 by pass (ms) | " +
                "first inference (ms) | timed runs |",
            "|" + "---|".repeat(9),
        )
        for (model in report.models) {
            val l = model.latency
            lines += "| ${name(model, manifest)} | ${g(l.p50Millis)} | ${g(l.p90Millis)} | ${g(l.meanMillis)} | " +
                "${g(l.minMillis)} | ${g(l.maxMillis)} | ${model.passP50Millis.joinToString(" / ") { g(it) }} | " +
                "${g(model.firstInferenceMillis)} | ${l.count} |"
        }
        return lines.joinToString("\n")
    }

    /** `4 passes, order alternating (baseline → compressed, then compressed → baseline)`. */
    fun describeSchedule(report: BenchmarkReport): String {
        val passes = report.order.size
        val first = report.order.first().joinToString(" → ")
        return if (passes == 1) {
            "1 pass ($first)"
        } else {
            "$passes passes, order alternating ($first, then ${report.order[1].joinToString(" → ")})"
        }
    }

    fun describeTiming(timing: TimingSource): String = when (timing) {
        TimingSource.NATIVE_INVOKE ->
            "native invoke() only (LiteRT getLastNativeInferenceDurationNanoseconds): the input is " +
                "written into a reused direct buffer before, the output read after the timed part, " +
                "as the desktop benchmark times invoke()"
        else -> timing.describe()
    }

    private fun name(model: ModelBenchmark, manifest: Manifest?): String =
        manifest?.models?.get(model.key)?.file ?: model.key

    private fun g(millis: Double): String = PyFormat.general(millis, 4)

    private fun cell(text: String): String = text.replace("|", "\\|").replace("\n", " ")
}
