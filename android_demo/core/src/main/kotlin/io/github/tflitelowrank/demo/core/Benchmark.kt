package io.github.tflitelowrank.demo.core

/** How long to measure. Every test-set example is classified once per timed pass. */
data class BenchmarkConfig(
    /** Untimed inferences after loading, so caches, XNNPACK packing and the JIT settle. */
    val warmupRuns: Int = 20,
    /** Timed passes over the test set; predictions of the first pass give accuracy. */
    val timedPasses: Int = 1,
    /** Use at most this many test examples (null = all). */
    val maxExamples: Int? = null,
) {
    init {
        require(warmupRuns >= 0) { "`warmupRuns` must be >= 0. Received: warmupRuns=$warmupRuns" }
        require(timedPasses >= 1) { "`timedPasses` must be >= 1. Received: timedPasses=$timedPasses" }
        require(maxExamples == null || maxExamples >= 1) {
            "`maxExamples` must be null or >= 1. Received: maxExamples=$maxExamples"
        }
    }
}

/** A model to benchmark: its manifest key, file size and how to load it (the load is timed). */
class ModelUnderTest(val key: String, val fileSizeBytes: Long, val load: () -> Classifier)

/** Memory in use by the process, e.g. PSS on Android; the runner reports the delta around a load. */
fun interface MemoryProbe {
    fun usedBytes(): Long
}

/** One model's results. */
data class ModelBenchmark(
    val key: String,
    val fileSizeBytes: Long,
    val loadMillis: Double,
    val latency: LatencyStats,
    /** Memory after load and warm-up minus memory before the load; null without a probe. */
    val memoryDeltaBytes: Long?,
    val accuracy: Ratio,
    val predictions: List<Int>,
)

/** All models' results; [agreement] compares every model with the first (the baseline). */
data class BenchmarkReport(
    val models: List<ModelBenchmark>,
    val agreement: Map<String, Ratio>,
    val numExamples: Int,
    val config: BenchmarkConfig,
)

/** What the runner is doing, for a progress bar: [done] of [total] steps of the whole run. */
data class BenchmarkProgress(val model: String, val phase: Phase, val done: Int, val total: Int) {
    enum class Phase { LOADING, WARMUP, TIMING, FINISHED }

    val fraction: Float get() = if (total == 0) 1f else done.toFloat() / total
}

/**
 * Measures each model in turn, so only one is loaded at a time (memory deltas do not
 * overlap): time the load, run the warm-up, then time every inference over the test set.
 *
 * Generic over [Classifier], so it runs on the JVM with a fake. [onProgress] is called on
 * the caller's thread; throwing from it (e.g. a coroutine's CancellationException) stops
 * the run, and the current classifier is still closed.
 */
class BenchmarkRunner(
    private val config: BenchmarkConfig = BenchmarkConfig(),
    private val clock: NanoClock = NanoClock.System,
    private val memory: MemoryProbe? = null,
) {
    fun run(
        models: List<ModelUnderTest>,
        examples: List<EncodedExample>,
        numLabels: Int,
        onProgress: (BenchmarkProgress) -> Unit = {},
    ): BenchmarkReport {
        require(models.isNotEmpty()) { "no models to benchmark" }
        require(examples.isNotEmpty()) { "the test set is empty" }
        val used = config.maxExamples?.let { examples.take(it) } ?: examples
        val stepsPerModel = 1 + config.warmupRuns + used.size * config.timedPasses
        val total = stepsPerModel * models.size
        val labels = IntArray(used.size) { used[it].label }
        var done = 0
        val reportEvery = maxOf(1, used.size / 50)

        val results = models.map { model ->
            onProgress(BenchmarkProgress(model.key, BenchmarkProgress.Phase.LOADING, done, total))
            val memoryBefore = memory?.usedBytes()
            val loadStart = clock.nanoTime()
            val classifier = model.load()
            val loadNanos = clock.nanoTime() - loadStart
            done += 1
            classifier.use {
                for (i in 0 until config.warmupRuns) {
                    classifier.classify(used[i % used.size].tokenIds)
                    done += 1
                    if (i % reportEvery == 0) {
                        onProgress(BenchmarkProgress(model.key, BenchmarkProgress.Phase.WARMUP, done, total))
                    }
                }
                val memoryDelta = memoryBefore?.let { before -> memory!!.usedBytes() - before }
                val samples = LongArray(used.size * config.timedPasses)
                val predictions = IntArray(used.size)
                for (pass in 0 until config.timedPasses) {
                    for ((i, example) in used.withIndex()) {
                        val start = clock.nanoTime()
                        val probabilities = classifier.classify(example.tokenIds)
                        samples[pass * used.size + i] = clock.nanoTime() - start
                        ModelIo.checkOutput(model.key, probabilities, numLabels)
                        if (pass == 0) predictions[i] = argmax(probabilities)
                        done += 1
                        if (i % reportEvery == 0) {
                            onProgress(BenchmarkProgress(model.key, BenchmarkProgress.Phase.TIMING, done, total))
                        }
                    }
                }
                ModelBenchmark(
                    key = model.key,
                    fileSizeBytes = model.fileSizeBytes,
                    loadMillis = loadNanos / 1e6,
                    latency = LatencyStats.fromNanos(samples),
                    memoryDeltaBytes = memoryDelta,
                    accuracy = accuracy(predictions, labels),
                    predictions = predictions.toList(),
                )
            }
        }
        onProgress(BenchmarkProgress(models.last().key, BenchmarkProgress.Phase.FINISHED, total, total))
        val reference = results.first()
        val agreement = results.drop(1).associate { other ->
            other.key to agreement(reference.predictions.toIntArray(), other.predictions.toIntArray())
        }
        return BenchmarkReport(results, agreement, used.size, config)
    }
}
