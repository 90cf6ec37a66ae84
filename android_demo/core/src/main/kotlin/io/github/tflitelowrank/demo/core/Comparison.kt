package io.github.tflitelowrank.demo.core

import kotlin.math.abs

/** One label as every model scores it; [delta] is the last model's probability minus the first's. */
data class LabelRow(val index: Int, val name: String, val probabilities: List<Float>) {
    val delta: Float get() = probabilities.last() - probabilities.first()
}

/**
 * What the screen shows for one sentence: a few labels instead of one bar per label.
 *
 * [rows] are every label when there are at most [ALL_LABELS_UP_TO], else the union of each
 * model's [TOP_K] most probable labels plus the label the models differ on most, ordered by
 * the first model's probability (highest first; ties by label index).
 */
data class LabelComparison(
    val rows: List<LabelRow>,
    /** Each model's predicted label index, in model order. */
    val predicted: List<Int>,
    /** The label with the largest |probability difference| between the first and last model. */
    val largestDifference: LabelRow,
    val numLabels: Int,
) {
    val modelsAgree: Boolean get() = predicted.distinct().size <= 1

    /** How many labels are not shown. */
    val hiddenLabels: Int get() = numLabels - rows.size

    companion object {
        const val ALL_LABELS_UP_TO: Int = 5
        const val TOP_K: Int = 3

        fun of(answers: List<ModelAnswer>, labels: Labels): LabelComparison {
            require(answers.isNotEmpty()) { "no answers to compare" }
            val numLabels = labels.size
            answers.forEach {
                require(it.probabilities.size == numLabels) {
                    "`${it.key}` has ${it.probabilities.size} probabilities for $numLabels labels"
                }
            }
            fun row(index: Int) = LabelRow(index, labels[index], answers.map { it.probabilities[index] })
            val all = (0 until numLabels).map(::row)
            // Largest |delta|; ties go to the lowest index.
            val largest = all.fold(all.first()) { best, r -> if (abs(r.delta) > abs(best.delta)) r else best }
            val shown = if (numLabels <= ALL_LABELS_UP_TO) {
                all
            } else {
                val indices = LinkedHashSet<Int>()
                for (answer in answers) indices += topIndices(answer.probabilities, TOP_K)
                indices += largest.index
                indices.map { all[it] }.sortedWith(compareByDescending<LabelRow> { it.probabilities.first() }.thenBy { it.index })
            }
            return LabelComparison(shown, answers.map { it.label }, largest, numLabels)
        }

        /** Indices of the [k] largest values, largest first; ties go to the lower index. */
        fun topIndices(values: List<Float>, k: Int): List<Int> {
            require(k >= 0) { "`k` must be >= 0. Received: k=$k" }
            return values.indices.sortedWith(compareByDescending<Int> { values[it] }.thenBy { it }).take(k)
        }
    }
}

/** [LabelComparison.of] for this sentence's answers. */
fun TextClassification.compare(labels: Labels): LabelComparison = LabelComparison.of(answers, labels)
