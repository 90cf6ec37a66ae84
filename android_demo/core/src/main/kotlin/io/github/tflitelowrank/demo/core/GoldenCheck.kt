package io.github.tflitelowrank.demo.core

import kotlin.math.abs

/** One disagreement between this runtime and the Python reference in `golden.jsonl`. */
data class GoldenMismatch(val line: Int, val model: String?, val detail: String)

/**
 * Replays `golden.jsonl`: the Kotlin tokenizer must give the Python token ids exactly, and
 * each classifier must give the Python LiteRT probabilities within [atol] (absolute).
 * When the reference's top two probabilities differ by more than `2 * atol`, the predicted
 * class must also be the same.
 */
object GoldenCheck {
    /**
     * Default tolerance on a device. Python's LiteRT on x86 and LiteRT on an ARM phone both
     * run XNNPACK but with different kernels; float32 models agree to ~1e-6, dynamic-range
     * quantized ones (activations quantized at run time) to ~1e-3.
     */
    const val DEVICE_ATOL: Double = 5e-3

    fun check(
        golden: List<GoldenExample>,
        tokenizer: Tokenizer,
        classifiers: List<Classifier>,
        atol: Double = DEVICE_ATOL,
    ): List<GoldenMismatch> {
        require(atol >= 0) { "`atol` must be >= 0. Received: atol=$atol" }
        val mismatches = ArrayList<GoldenMismatch>()
        for ((index, example) in golden.withIndex()) {
            val line = index + 1
            val ids = tokenizer.encode(example.text)
            if (ids.toList() != example.tokenIds) {
                mismatches += GoldenMismatch(
                    line,
                    null,
                    "token ids ${ids.toList()} differ from Python's ${example.tokenIds} for \"${example.text}\"",
                )
                continue
            }
            for (classifier in classifiers) {
                val expected = example.probabilities[classifier.key]
                    ?: throw IllegalArgumentException("golden.jsonl has no probabilities for model `${classifier.key}`")
                val actual = classifier.classify(ids)
                if (actual.size != expected.size) {
                    mismatches += GoldenMismatch(line, classifier.key, "${actual.size} outputs, expected ${expected.size}")
                    continue
                }
                val worst = expected.indices.maxByOrNull { abs(actual[it] - expected[it]) } ?: continue
                val error = abs(actual[worst] - expected[worst])
                if (!(error <= atol)) {
                    mismatches += GoldenMismatch(
                        line,
                        classifier.key,
                        "probability $worst is ${actual[worst]}, Python gave ${expected[worst]} (|diff| $error > $atol)",
                    )
                    continue
                }
                val sorted = expected.sortedDescending()
                val margin = if (sorted.size > 1) sorted[0] - sorted[1] else Double.POSITIVE_INFINITY
                if (margin > 2 * atol && argmax(actual) != argmax(expected)) {
                    mismatches += GoldenMismatch(
                        line,
                        classifier.key,
                        "predicts class ${argmax(actual)}, Python predicts ${argmax(expected)}",
                    )
                }
            }
        }
        return mismatches
    }
}
