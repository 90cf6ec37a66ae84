package io.github.tflitelowrank.demo.core

/**
 * A text classifier over token ids: the app's LiteRT model, or a fake in tests.
 *
 * Implementations are not required to be thread-safe; call one instance from one thread.
 */
interface Classifier : AutoCloseable {
    /** The manifest key of the model, e.g. `baseline`. */
    val key: String

    /** Class probabilities for one `[seq_len]` vector of token ids. */
    fun classify(tokenIds: IntArray): FloatArray

    /**
     * How long the inference of the last [classify] call took in the runtime itself, in
     * nanoseconds, without copying the input in or the output out (LiteRT: the native
     * `invoke()`); null when the implementation does not measure it or no call succeeded.
     * Benchmarks prefer it over timing the whole call.
     */
    val lastInferenceNanos: Long? get() = null

    override fun close() {}
}

/** Index of the largest value; ties go to the lowest index, as numpy's `argmax` does. */
fun argmax(values: FloatArray): Int {
    require(values.isNotEmpty()) { "argmax of an empty array" }
    var best = 0
    for (i in 1 until values.size) if (values[i] > values[best]) best = i
    return best
}

fun argmax(values: List<Double>): Int {
    require(values.isNotEmpty()) { "argmax of an empty list" }
    var best = 0
    for (i in 1 until values.size) if (values[i] > values[best]) best = i
    return best
}

object ModelIo {
    /**
     * Checks the tensors a runtime reports for a loaded model against the contract and the
     * manifest: input int32 `[1, seq_len]`, output float32 `[1, num_labels]`, one of each.
     * Names are not compared (runtimes decorate them, e.g. `serving_default_token_ids:0`).
     */
    fun check(
        model: ModelEntry,
        manifest: Manifest,
        inputs: List<TensorSpec>,
        outputs: List<TensorSpec>,
    ) {
        val expectedInput = TensorSpec.input(manifest.seqLen)
        val expectedOutput = TensorSpec.output(manifest.numLabels)
        if (inputs.size != 1) {
            throw AssetException.ModelShapeMismatch(model.file, "input", "one input tensor", "${inputs.size} input tensors")
        }
        if (outputs.size != 1) {
            throw AssetException.ModelShapeMismatch(model.file, "output", "one output tensor", "${outputs.size} output tensors")
        }
        compare(model.file, "input", expectedInput, inputs.single())
        compare(model.file, "output", expectedOutput, outputs.single())
    }

    /** Checks what the manifest declares for [model] against seq_len and num_labels. */
    fun checkDeclared(model: ModelEntry, manifest: Manifest) {
        compare(model.file, "input declared in manifest.json", TensorSpec.input(manifest.seqLen), model.input)
        compare(model.file, "output declared in manifest.json", TensorSpec.output(manifest.numLabels), model.output)
    }

    private fun compare(file: String, tensor: String, expected: TensorSpec, actual: TensorSpec) {
        if (expected.dtype != actual.dtype || expected.shape != actual.shape) {
            throw AssetException.ModelShapeMismatch(file, tensor, expected.describe(), actual.describe())
        }
    }

    /** Checks one output vector: [numLabels] finite values. */
    fun checkOutput(key: String, probabilities: FloatArray, numLabels: Int) {
        if (probabilities.size != numLabels) {
            throw AssetException.ModelShapeMismatch(key, "output", "$numLabels values", "${probabilities.size} values")
        }
        val bad = probabilities.indexOfFirst { !it.isFinite() }
        if (bad >= 0) {
            throw AssetException.ModelLoadFailed(key, "output value $bad is ${probabilities[bad]} (not finite)")
        }
    }
}

/** One model's answer for one sentence. */
data class ModelAnswer(
    val key: String,
    val label: Int,
    val labelName: String,
    val probabilities: List<Float>,
    val latencyMillis: Double,
    /** What [latencyMillis] measures: the native inference, or the whole classify call. */
    val timing: TimingSource = TimingSource.CLASSIFY_CALL,
)

/** Both models' answers for the sentence in the text box. */
data class TextClassification(
    val text: String,
    val tokens: List<String>,
    val tokenIds: List<Int>,
    /** How many tokens were cut off because the text is longer than seq_len. */
    val truncatedTokens: Int,
    val answers: List<ModelAnswer>,
) {
    /** True when every model predicts the same class. */
    val modelsAgree: Boolean get() = answers.map { it.label }.distinct().size <= 1
}

/**
 * Tokenizes once and asks every classifier, timing each: the classifier's native inference
 * time when it reports one, else the whole call on [clock].
 */
fun classifyText(
    text: String,
    tokenizer: Tokenizer,
    labels: Labels,
    classifiers: List<Classifier>,
    clock: NanoClock = NanoClock.System,
): TextClassification {
    val tokens = tokenizer.tokenize(text)
    val ids = tokenizer.encodeTokens(tokens)
    val answers = classifiers.map { classifier ->
        val start = clock.nanoTime()
        val probabilities = classifier.classify(ids)
        val elapsed = clock.nanoTime() - start
        ModelIo.checkOutput(classifier.key, probabilities, labels.size)
        val label = argmax(probabilities)
        val native = classifier.lastInferenceNanos
        ModelAnswer(
            classifier.key, label, labels[label], probabilities.toList(), (native ?: elapsed) / 1e6,
            if (native != null) TimingSource.NATIVE_INVOKE else TimingSource.CLASSIFY_CALL,
        )
    }
    return TextClassification(
        text = text,
        tokens = tokens,
        tokenIds = ids.toList(),
        truncatedTokens = maxOf(0, tokens.size - tokenizer.seqLen),
        answers = answers,
    )
}

/** A monotonic nanosecond clock; tests pass a fake one. */
fun interface NanoClock {
    fun nanoTime(): Long

    companion object {
        val System: NanoClock = NanoClock { java.lang.System.nanoTime() }
    }
}
