package io.github.tflitelowrank.demo.core

import io.github.tflitelowrank.demo.core.testing.FakeClassifier
import io.github.tflitelowrank.demo.core.testing.FakeClock
import io.github.tflitelowrank.demo.core.testing.Fixtures
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

class ModelIoTest {
    private val manifest = Manifest.parse(File(Fixtures.assetsFixture(), "manifest.json").readText())
    private val model = manifest.compressed
    private val input = TensorSpec("serving_default_token_ids:0", "int32", listOf(1, manifest.seqLen))
    private val output = TensorSpec("StatefulPartitionedCall:0", "float32", listOf(1, manifest.numLabels))

    @Test
    fun acceptsTheContractShapesWhateverTheTensorNames() {
        ModelIo.check(model, manifest, listOf(input), listOf(output))
    }

    @Test
    fun rejectsWrongInputShapeOrDtype() {
        val shape = assertThrows(AssetException.ModelShapeMismatch::class.java) {
            ModelIo.check(model, manifest, listOf(input.copy(shape = listOf(1, 128))), listOf(output))
        }
        assertEquals("compressed.tflite", shape.model)
        assertEquals("input", shape.tensor)
        assertEquals("int32 [1, 128]", shape.actual)
        assertTrue(shape.message!!.contains("The input of `compressed.tflite` is int32 [1, 128] but the app needs int32 [1, ${manifest.seqLen}]"))
        val dtype = assertThrows(AssetException.ModelShapeMismatch::class.java) {
            ModelIo.check(model, manifest, listOf(input.copy(dtype = "float32")), listOf(output))
        }
        assertEquals("float32 [1, ${manifest.seqLen}]", dtype.actual)
    }

    @Test
    fun rejectsWrongOutputAndTensorCounts() {
        assertThrows(AssetException.ModelShapeMismatch::class.java) {
            ModelIo.check(model, manifest, listOf(input), listOf(output.copy(shape = listOf(1, 3))))
        }
        val twoInputs = assertThrows(AssetException.ModelShapeMismatch::class.java) {
            ModelIo.check(model, manifest, listOf(input, input), listOf(output))
        }
        assertEquals("2 input tensors", twoInputs.actual)
        assertThrows(AssetException.ModelShapeMismatch::class.java) {
            ModelIo.check(model, manifest, listOf(input), emptyList())
        }
    }
}

class ClassifyTextTest {
    @Test
    fun classifiesWithEveryModelAndTimesEach() {
        val clock = FakeClock()
        val vocabulary = Vocabulary.of(listOf("<pad>", "<unk>", "good", "bad"))
        val tokenizer = Tokenizer(vocabulary, seqLen = 3)
        val labels = Labels(listOf("negative", "positive"))
        val sentiment = { ids: IntArray -> if (2 in ids) floatArrayOf(0.1f, 0.9f) else floatArrayOf(0.7f, 0.3f) }
        val result = classifyText(
            "Good, not bad at all",
            tokenizer,
            labels,
            listOf(
                FakeClassifier("baseline", clock, { 2.0 }, answer = sentiment),
                FakeClassifier("compressed", clock, { 0.5 }) { floatArrayOf(0.6f, 0.4f) },
            ),
            clock,
        )
        assertEquals(listOf("good", ",", "not", "bad", "at", "all"), result.tokens)
        assertEquals(listOf(2, 1, 1), result.tokenIds)
        assertEquals(3, result.truncatedTokens)
        assertEquals(listOf("positive", "negative"), result.answers.map { it.labelName })
        assertEquals(2.0, result.answers[0].latencyMillis, 1e-9)
        assertEquals(0.5, result.answers[1].latencyMillis, 1e-9)
        assertEquals(listOf(0.1f, 0.9f), result.answers[0].probabilities)
        assertEquals(TimingSource.CLASSIFY_CALL, result.answers[0].timing)
        assertFalse(result.modelsAgree)
    }

    @Test
    fun reportsTheNativeInferenceTimeWhenTheClassifierHasOne() {
        val clock = FakeClock()
        val tokenizer = Tokenizer(Vocabulary.of(listOf("<pad>", "<unk>")), 2)
        val native = FakeClassifier("baseline", clock, { 1.0 }, nativeNanos = { 40_000L }) { floatArrayOf(0.3f, 0.7f) }
        val answer = classifyText("x", tokenizer, Labels(listOf("a", "b")), listOf(native), clock).answers.single()
        assertEquals(0.04, answer.latencyMillis, 1e-12)
        assertEquals(TimingSource.NATIVE_INVOKE, answer.timing)
    }

    @Test
    fun rejectsAnOutputOfTheWrongSize() {
        val tokenizer = Tokenizer(Vocabulary.of(listOf("<pad>", "<unk>")), 2)
        assertThrows(AssetException.ModelShapeMismatch::class.java) {
            classifyText("x", tokenizer, Labels(listOf("a", "b")), listOf(FakeClassifier("m") { floatArrayOf(1f) }))
        }
    }
}
