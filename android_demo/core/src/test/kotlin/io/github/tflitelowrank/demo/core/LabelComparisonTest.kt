package io.github.tflitelowrank.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class LabelComparisonTest {
    private fun answer(key: String, probabilities: List<Float>, labels: Labels): ModelAnswer {
        val label = argmax(probabilities.toFloatArray())
        return ModelAnswer(key, label, labels[label], probabilities, 0.01)
    }

    @Test
    fun showsEveryLabelOfASmallSetWithTheDifference() {
        val labels = Labels(listOf("negative", "positive"))
        val comparison = LabelComparison.of(
            listOf(answer("baseline", listOf(0.25f, 0.75f), labels), answer("compressed", listOf(0.5f, 0.5f), labels)),
            labels,
        )
        assertEquals(listOf("negative", "positive"), comparison.rows.map { it.name })
        assertEquals(0.25f, comparison.rows[0].delta, 0f)
        assertEquals(-0.25f, comparison.rows[1].delta, 0f)
        assertEquals(listOf(1, 0), comparison.predicted)
        assertFalse(comparison.modelsAgree)
        assertEquals(0, comparison.hiddenLabels)
        // Both labels differ by 0.25: the tie goes to the lower index.
        assertEquals("negative", comparison.largestDifference.name)
    }

    @Test
    fun showsTheTopLabelsOfEachModelForManyClasses() {
        val names = (0 until 52).map { "class$it" }
        val labels = Labels(names)
        val base = MutableList(52) { 0.001f }.apply { this[10] = 0.5f; this[11] = 0.2f; this[12] = 0.1f; this[40] = 0.05f }
        val comp = MutableList(52) { 0.001f }.apply { this[11] = 0.45f; this[10] = 0.3f; this[13] = 0.08f; this[40] = 0.002f }
        val comparison = LabelComparison.of(listOf(answer("baseline", base, labels), answer("compressed", comp, labels)), labels)
        // Union of both top-3 (10, 11, 12 and 11, 10, 13), ordered by the baseline's probability.
        assertEquals(listOf(10, 11, 12, 13), comparison.rows.map { it.index })
        assertEquals(48, comparison.hiddenLabels)
        assertEquals(listOf(10, 11), comparison.predicted)
        assertEquals(11, comparison.largestDifference.index)
        assertEquals(0.25f, comparison.largestDifference.delta, 1e-6f)
    }

    @Test
    fun alwaysShowsTheLabelTheModelsDifferOnMost() {
        val labels = Labels((0 until 8).map { "l$it" })
        val base = listOf(0.40f, 0.30f, 0.20f, 0.10f, 0f, 0f, 0f, 0f)
        val comp = listOf(0.35f, 0.25f, 0.15f, 0.05f, 0f, 0f, 0f, 0.20f)
        val comparison = LabelComparison.of(listOf(answer("b", base, labels), answer("c", comp, labels)), labels)
        assertEquals(listOf(0, 1, 2, 7), comparison.rows.map { it.index })
        assertEquals(7, comparison.largestDifference.index)
        assertTrue(comparison.modelsAgree)
    }

    @Test
    fun topIndicesBreakTiesTowardsTheLowerIndex() {
        assertEquals(listOf(1, 0, 2), LabelComparison.topIndices(listOf(0.3f, 0.4f, 0.3f), 3))
        assertEquals(listOf(1), LabelComparison.topIndices(listOf(0.3f, 0.4f), 1))
        assertThrows(IllegalArgumentException::class.java) {
            LabelComparison.of(listOf(ModelAnswer("b", 0, "a", listOf(1f), 0.0)), Labels(listOf("a", "b")))
        }
    }
}
