package io.github.tflitelowrank.demo.core

/** How long to measure. */
data class BenchmarkConfig(
    /** Untimed inferences per model after its first one, so caches and the JIT settle. */
    val warmupRuns: Int = 20,
    /**
     * Timed passes. Each pass times every model over the whole test set, one model after
     * the other, the order reversed from one pass to the next ([interleavedOrder]).
     */
    val passes: Int = 4,
    /** Use at most this many test examples (null = all). */
    val maxExamples: Int? = null,
) {
    init {
        require(warmupRuns >= 0) { "`warmupRuns` must be >= 0. Received: warmupRuns=$warmupRuns" }
        require(passes >= 1) { "`passes` must be >= 1. Received: passes=$passes" }
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

/** What one latency sample is the duration of. */
enum class TimingSource {
    /**
     * The runtime's own measure of the inference alone (LiteRT's
     * `getLastNativeInferenceDurationNanoseconds()`: the native `invoke()`), without copying
     * the input in or the output out. The desktop benchmark times the same thing.
     */
    NATIVE_INVOKE,

    /** The whole [Classifier.classify] call, copies included (a classifier without a native timer). */
    CLASSIFY_CALL,

    /** Some samples of each kind: the classifier reported a native duration only sometimes. */
    MIXED,
    ;

    fun describe(): String = when (this) {
        NATIVE_INVOKE -> "native invoke() only"
        CLASSIFY_CALL -> "whole classify call (input and output copies included)"
        MIXED -> "mixed: native invoke() where reported, else the whole call"
    }
}

/** One model's results. */
data class ModelBenchmark(
    val key: String,
    val fileSizeBytes: Long,
    /** Creating the classifier: mapping the file, building the interpreter, allocating tensors. */
    val loadMillis: Double,
    /** The first inference after loading (not part of [latency]). */
    val firstInferenceMillis: Double,
    /** All timed inferences of all passes. */
    val latency: LatencyStats,
    /** The median of each pass on its own, in pass order: drift between passes shows here. */
    val passP50Millis: List<Double>,
    val timing: TimingSource,
    /** Memory after load and warm-up minus memory before the load; null without a probe. */
    val memoryDeltaBytes: Long?,
    /** Accuracy of the first pass's predictions. */
    val accuracy: Ratio,
    val predictions: List<Int>,
)

/** All models' results; [agreement] compares every model with the first (the baseline). */
data class BenchmarkReport(
    val models: List<ModelBenchmark>,
    val agreement: Map<String, Ratio>,
    val numExamples: Int,
    val config: BenchmarkConfig,
    /** The model keys in the order each pass timed them. */
    val order: List<List<String>>,
) {
    /** One source when every model was timed the same way, else [TimingSource.MIXED]. */
    val timing: TimingSource
        get() = models.map { it.timing }.distinct().singleOrNull() ?: TimingSource.MIXED
}

/** What the runner is doing, for a progress bar: [done] of [total] steps of the whole run. */
data class BenchmarkProgress(
    val model: String,
    val phase: Phase,
    /** 1-based pass number while [Phase.TIMING], else 0. */
    val pass: Int,
    val passes: Int,
    val done: Int,
    val total: Int,
) {
    enum class Phase { LOADING, WARMUP, TIMING, FINISHED }

    val fraction: Float get() = if (total == 0) 1f else done.toFloat() / total

    /** The progress line the screen shows, e.g. `pass 2/4: timing compressed (61 %)`. */
    fun describe(): String {
        val what = when (phase) {
            Phase.LOADING -> "loading $model"
            Phase.WARMUP -> "warming up $model"
            Phase.TIMING -> "pass $pass/$passes: timing $model"
            Phase.FINISHED -> "finished"
        }
        return "$what (${(fraction * 100).toInt()} %)"
    }
}

/**
 * The order in which pass `p` times the models (indices into the model list): the given
 * order on even passes, reversed on odd ones (A B, B A, A B, ...). Whatever drifts during a
 * run (clock frequency, temperature, background load) then hits every model alike, and no
 * model is always the one that runs first.
 */
fun interleavedOrder(models: Int, passes: Int): List<List<Int>> {
    require(models >= 1) { "`models` must be >= 1. Received: models=$models" }
    require(passes >= 1) { "`passes` must be >= 1. Received: passes=$passes" }
    val forward = (0 until models).toList()
    return List(passes) { pass -> if (pass % 2 == 0) forward else forward.reversed() }
}

/**
 * Benchmarks several models on the same test examples.
 *
 * 1. Each model in turn: time the load, time the first inference, run [BenchmarkConfig.warmupRuns]
 *    untimed inferences, and measure the memory delta across load and warm-up (loads happen
 *    one after the other, so the deltas do not overlap).
 * 2. [BenchmarkConfig.passes] timed passes over the examples in [interleavedOrder]. A sample is
 *    the classifier's own native inference time ([Classifier.lastInferenceNanos]) when it
 *    reports one, else the duration of the whole `classify` call on [clock].
 *
 * Generic over [Classifier], so it runs on the JVM with a fake. [onProgress] is called on
 * the caller's thread; throwing from it (e.g. a coroutine's CancellationException) stops
 * the run. Every classifier opened is closed when the run ends, normally or not.
 */
class BenchmarkRunner(
    private val config: BenchmarkConfig = BenchmarkConfig(),
    private val clock: NanoClock = NanoClock.System,
    private val memory: MemoryProbe? = null,
) {
    private class Loaded(
        val model: ModelUnderTest,
        val classifier: Classifier,
        val loadNanos: Long,
        val firstNanos: Long,
        val memoryDelta: Long?,
        val samples: LongArray,
        var nativeSamples: Int = 0,
        val predictions: IntArray,
    )

    fun run(
        models: List<ModelUnderTest>,
        examples: List<EncodedExample>,
        numLabels: Int,
        onProgress: (BenchmarkProgress) -> Unit = {},
    ): BenchmarkReport {
        require(models.isNotEmpty()) { "no models to benchmark" }
        require(examples.isNotEmpty()) { "the test set is empty" }
        val keys = models.map { it.key }
        require(keys.distinct().size == keys.size) { "model keys repeat: $keys" }
        val used = config.maxExamples?.let { examples.take(it) } ?: examples
        val n = used.size
        val passes = config.passes
        val order = interleavedOrder(models.size, passes)
        val total = models.size * (2 + config.warmupRuns) + passes * models.size * n
        val labels = IntArray(n) { used[it].label }
        val reportEvery = maxOf(1, n / 50)
        var done = 0
        fun progress(key: String, phase: BenchmarkProgress.Phase, pass: Int = 0) =
            onProgress(BenchmarkProgress(key, phase, pass, passes, done, total))

        val loaded = ArrayList<Loaded>(models.size)
        try {
            for (model in models) {
                progress(model.key, BenchmarkProgress.Phase.LOADING)
                val memoryBefore = memory?.usedBytes()
                val loadStart = clock.nanoTime()
                val classifier = model.load()
                val loadNanos = clock.nanoTime() - loadStart
                done += 1
                try {
                    val firstNanos = timed(classifier, used[0].tokenIds) { ModelIo.checkOutput(model.key, it, numLabels) }
                    done += 1
                    for (i in 0 until config.warmupRuns) {
                        classifier.classify(used[i % n].tokenIds)
                        done += 1
                        if (i % reportEvery == 0) progress(model.key, BenchmarkProgress.Phase.WARMUP)
                    }
                    val memoryDelta = memoryBefore?.let { before -> memory!!.usedBytes() - before }
                    loaded += Loaded(
                        model, classifier, loadNanos, firstNanos, memoryDelta,
                        LongArray(passes * n), predictions = IntArray(n),
                    )
                } catch (e: Throwable) {
                    classifier.close()
                    throw e
                }
            }

            for ((pass, passOrder) in order.withIndex()) {
                for (index in passOrder) {
                    val run = loaded[index]
                    val key = run.model.key
                    progress(key, BenchmarkProgress.Phase.TIMING, pass + 1)
                    for ((i, example) in used.withIndex()) {
                        val start = clock.nanoTime()
                        val probabilities = run.classifier.classify(example.tokenIds)
                        val wall = clock.nanoTime() - start
                        val native = run.classifier.lastInferenceNanos
                        if (native != null) run.nativeSamples += 1
                        run.samples[pass * n + i] = native ?: wall
                        ModelIo.checkOutput(key, probabilities, numLabels)
                        if (pass == 0) run.predictions[i] = argmax(probabilities)
                        done += 1
                        if (i % reportEvery == 0) progress(key, BenchmarkProgress.Phase.TIMING, pass + 1)
                    }
                }
            }
        } finally {
            loaded.forEach { it.classifier.close() }
        }
        progress(models.last().key, BenchmarkProgress.Phase.FINISHED)

        val results = loaded.map { run ->
            ModelBenchmark(
                key = run.model.key,
                fileSizeBytes = run.model.fileSizeBytes,
                loadMillis = run.loadNanos / 1e6,
                firstInferenceMillis = run.firstNanos / 1e6,
                latency = LatencyStats.fromNanos(run.samples),
                passP50Millis = (0 until passes).map { pass ->
                    LatencyStats.fromNanos(run.samples.copyOfRange(pass * n, (pass + 1) * n)).p50Millis
                },
                timing = when (run.nativeSamples) {
                    run.samples.size -> TimingSource.NATIVE_INVOKE
                    0 -> TimingSource.CLASSIFY_CALL
                    else -> TimingSource.MIXED
                },
                memoryDeltaBytes = run.memoryDelta,
                accuracy = accuracy(run.predictions, labels),
                predictions = run.predictions.toList(),
            )
        }
        val reference = results.first()
        val agreement = results.drop(1).associate { other ->
            other.key to agreement(reference.predictions.toIntArray(), other.predictions.toIntArray())
        }
        return BenchmarkReport(results, agreement, n, config, order.map { pass -> pass.map { keys[it] } })
    }

    /** One inference; returns its duration: the native one when reported, else the call's. */
    private inline fun timed(classifier: Classifier, ids: IntArray, check: (FloatArray) -> Unit): Long {
        val start = clock.nanoTime()
        val probabilities = classifier.classify(ids)
        val wall = clock.nanoTime() - start
        check(probabilities)
        return classifier.lastInferenceNanos ?: wall
    }
}
