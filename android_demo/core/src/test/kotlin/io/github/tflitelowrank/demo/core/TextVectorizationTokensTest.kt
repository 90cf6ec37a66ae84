package io.github.tflitelowrank.demo.core

import io.github.tflitelowrank.demo.core.testing.Fixtures
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

/** The `keras-text-vectorization-v1` rules of docs/contracts.md on hand-worked examples. */
class TextVectorizationTokensTest {
    private fun tokens(text: String) = TextVectorizationTokens.tokenize(text)

    @Test
    fun stripsAsciiPunctuationInsideWords() {
        assertEquals(listOf("nasas", "hubbletelescope", "isnt", "dead"), tokens("NASA's Hubble-telescope isn't dead!"))
        assertEquals(listOf("email", "ab", "abc"), tokens("e-mail -- a_b a.b.c"))
        assertEquals(emptyList<String>(), tokens("!\"#\$%&'()*+,-./:;<=>?@[\\]^_`{|}~"))
    }

    @Test
    fun lowerCasesAsciiOnlyAndKeepsNonAsciiPunctuation() {
        assertEquals(listOf("cafÉ", "İk"), tokens("CAFÉ İK"))
        assertEquals(listOf("“a”", "—", "’b’", "¿c"), tokens("“a” — ’b’ ¿c?"))
        assertEquals(listOf("東京", "🎬"), tokens("東京 🎬"))
    }

    @Test
    fun splitsOnAsciiWhitespaceOnly() {
        assertEquals(listOf("a", "b", "c", "d", "e", "f"), tokens("a\tb\nc\u000Bd\u000Ce\rf"))
        assertEquals(listOf("a\u00A0b", "c\u3000d", "e\u001Cf", "g\u0085h"), tokens("a\u00A0b c\u3000d e\u001Cf g\u0085h"))
        assertEquals(emptyList<String>(), tokens(""))
        assertEquals(emptyList<String>(), tokens("  \t\n  "))
    }

    @Test
    fun patternIsThePythonConstant() {
        val source = File(Fixtures.repoRoot(), "tflite_lowrank/data/text_vectorization.py").readText()
        val line = source.lines().first { it.startsWith("STRIP_PUNCTUATION_PATTERN = r'") }
        assertEquals(line.removePrefix("STRIP_PUNCTUATION_PATTERN = r'").removeSuffix("'"), TextVectorizationTokens.STRIP_PUNCTUATION_PATTERN)
    }

    @Test
    fun tokenizerPicksTheModeOfTheVocabularyAndPadsLikeKeras() {
        val keras = Vocabulary.parse("\n[UNK]\nthe\nfilm\nisnt\n")
        val tokenizer = Tokenizer(keras, seqLen = 4)
        assertEquals(TokenizerMode.TEXT_VECTORIZATION, tokenizer.mode)
        assertArrayEquals(intArrayOf(2, 3, 4, 1), tokenizer.encode("The film isn't bad, the film"))
        assertArrayEquals(intArrayOf(0, 0, 0, 0), tokenizer.encode("?!"))
        val ours = Vocabulary.of(listOf("<pad>", "<unk>", "isnt"))
        assertEquals(TokenizerMode.CLEAN, Tokenizer(ours, 2).mode)
        assertArrayEquals(intArrayOf(2, 1), Tokenizer(ours, 2, TokenizerMode.TEXT_VECTORIZATION).encode("isn't it"))
        assertEquals(TokenizerMode.TEXT_VECTORIZATION, TokenizerMode.forVersion("keras-text-vectorization-v1"))
        assertEquals(null, TokenizerMode.forVersion("keras-text-vectorization-v0"))
    }
}
