package io.github.tflitelowrank.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class VocabularyTest {
    @Test
    fun lineIndexIsTheId() {
        val vocab = Vocabulary.parse("<pad>\n<unk>\nthe\nfilm\n")
        assertEquals(4, vocab.size)
        assertEquals(0, vocab.idOf("<pad>"))
        assertEquals(3, vocab.idOf("film"))
        assertEquals(Vocabulary.UNK_ID, vocab.idOf("movie"))
        assertTrue("the" in vocab)
        assertFalse("The" in vocab)
    }

    @Test
    fun acceptsAMissingFinalNewline() {
        assertEquals(3, Vocabulary.parse("<pad>\n<unk>\nthe").size)
    }

    private fun invalid(text: String): String =
        assertThrows(AssetException.InvalidVocabulary::class.java) { Vocabulary.parse(text) }.message!!

    @Test
    fun rejectsBrokenFilesNamingTheLine() {
        assertTrue(invalid("").contains("empty"))
        assertTrue(invalid("<pad>\n").contains("needs at least"))
        assertTrue(invalid("<unk>\n<pad>\n").contains("line 0 must be `<pad>`, found `<unk>`"))
        assertTrue(invalid("<pad>\nunk\n").contains("line 1 must be `<unk>`"))
        assertTrue(invalid("<pad>\n<unk>\na\n\nb\n").contains("line 3 (id 3) is empty"))
        assertTrue(invalid("<pad>\n<unk>\na\n\n").contains("line 3 (id 3) is empty"))
        assertTrue(invalid("<pad>\r\n<unk>\r\n").contains("carriage return"))
        assertTrue(invalid("<pad>\n<unk>\na\nb\na\n").contains("`a` appears twice, at ids 2 and 4"))
        assertTrue(invalid("<pad>\n<unk>\nnew york\n").contains("line 2 (id 2) `new york` contains whitespace"))
        assertTrue(invalid("<pad>\n<unk>\nnbsp\u00A0\n").contains("contains whitespace"))
        assertTrue(invalid("\uFEFF<pad>\n<unk>\n").contains("line 0 must be `<pad>`"))
    }

    @Test
    fun acceptsAKerasTextVectorizationVocabularyKeepingItsEmptyFirstLine() {
        val vocab = Vocabulary.parse("\n[UNK]\nthe\nfilm\n")
        assertTrue(vocab.isTextVectorization)
        assertEquals(listOf("", "[UNK]", "the", "film"), vocab.tokens)
        assertEquals(Vocabulary.PAD_ID, vocab.idOf(""))
        assertEquals(3, vocab.idOf("film"))
        assertEquals(Vocabulary.UNK_ID, vocab.idOf("movie"))
        assertFalse(Vocabulary.parse("<pad>\n<unk>\n").isTextVectorization)
        // Keras tokens may hold whitespace other than ASCII's.
        assertEquals(3, Vocabulary.parse("\n[UNK]\na\u00A0b\n").size)
    }

    @Test
    fun rejectsBrokenKerasVocabularies() {
        assertTrue(invalid("\n<unk>\na\n").contains("line 0 must be `<pad>`, found ``"))
        assertTrue(invalid("\n[UNK]\na\n\nb\n").contains("line 3 (id 3) is empty"))
        assertTrue(invalid("\n[UNK]\na b\n").contains("line 2 (id 2) `a b` contains whitespace"))
        assertTrue(invalid("\n[UNK]\na\tb\n").contains("contains whitespace"))
        assertTrue(invalid("\n[UNK]\na\na\n").contains("`a` appears twice"))
        assertTrue(invalid("[UNK]\n\na\n").contains("line 0 must be `<pad>`"))
    }

    @Test
    fun errorMessageTellsHowToFix() {
        assertTrue(invalid("x\n<unk>\n").contains("tflite-lowrank export-android"))
    }
}

class LabelsTest {
    @Test
    fun parsesOneLabelPerLine() {
        val labels = Labels.parse("negative\npositive\n")
        assertEquals(listOf("negative", "positive"), labels.names)
        assertEquals("positive", labels[1])
        assertEquals(1, labels.indexOf("positive"))
    }

    @Test
    fun rejectsEmptyDuplicateAndTabbedLabels() {
        for ((text, expected) in listOf(
            "" to "no labels",
            "\n" to "no labels",
            " \nb\n" to "line 0 (class 0) is empty",
            "a\n\nb\n" to "line 1 (class 1) is empty",
            "a\na\n" to "`a` appear more than once",
            "a\tb\nc\n" to "contains a tab",
            "a\r\nb\r\n" to "carriage return",
        )) {
            val error = assertThrows(AssetException.LabelMismatch::class.java) { Labels.parse(text) }
            assertTrue("<$text>: ${error.message}", error.message!!.contains(expected))
        }
    }
}
