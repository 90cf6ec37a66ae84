package io.github.tflitelowrank.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test
import java.text.Normalizer
import kotlin.random.Random

/** The rules of docs/contracts.md, one by one, on hand-worked examples. */
class TokenizerTest {
    private fun tokens(text: String) = TextCleaner.tokenize(text)

    @Test
    fun keepsLettersDigitsAndTheEightPunctuationMarks() {
        assertEquals(listOf("a1", "b2", "`quoted`"), tokens("a1 b2 `quoted`"))
        assertEquals(listOf("x", "y", "z", "w"), tokens("x-y_z/w"))
        assertEquals(listOf("email", "a", "b", "."), tokens("email:a@b."))
    }

    @Test
    fun lowerCasesBeforeSplittingClitics() {
        assertEquals(listOf("do", "n't"), tokens("DON'T"))
        assertEquals(listOf("it", "'s"), tokens("IT'S"))
        assertEquals(listOf("we", "'ll", "they", "'re", "i", "'ve", "he", "'d"), tokens("We'll They'RE I'VE He'D"))
    }

    @Test
    fun splitsCliticsInTheContractOrder() {
        assertEquals(listOf("ca", "n't"), tokens("can't"))
        assertEquals(listOf("i", "'d", "'ve"), tokens("I'd've"))
        assertEquals(listOf("'s", "'s"), tokens("'s's"))
        // `'s` runs before `n't`: "isn's" has no n't, and "'sn't" splits twice.
        assertEquals(listOf("x", "'s", "n't"), tokens("x'sn't"))
        // An apostrophe that starts no clitic stays inside its token.
        assertEquals(listOf("rock'n'roll", "o'neil"), tokens("rock'n'roll O'Neil"))
        assertEquals(listOf("'", "'"), tokens("' '"))
    }

    @Test
    fun splitsOffPunctuationIncludingThePeriod() {
        assertEquals(listOf("film", "."), tokens("film."))
        assertEquals(listOf("(", "a", ")", ",", "b", "!", "c", "?"), tokens("(a),b!c?"))
        assertEquals(listOf(".", ".", "."), tokens("..."))
        assertEquals(listOf("3", ".", "14"), tokens("3.14"))
        // Parentheses are not escaped with a backslash (a deliberate fix of Kim's rules).
        assertEquals(listOf("("), tokens("("))
    }

    @Test
    fun turnsWhitespaceSymbolsAndEmojiIntoSeparators() {
        assertEquals(listOf("a", "b", "c", "d", "e"), tokens("a\tb\nc\r\nd\u00A0e"))
        assertEquals(listOf("ok", "ok"), tokens("ok😀ok"))
        assertEquals(listOf("don", "t", "a", "b", ".", ".", "."), tokens("Don’t “a” — b…")) // ’ is not ', … is ... (NFKC)
        assertEquals(listOf("great", "!", "film"), tokens("Great 🎬! ❤️ film")) // no lone U+FE0F
    }

    @Test
    fun keepsTheLettersMarksAndDigitsOfEveryScript() {
        // Issue 30: v1 made `e v eraj . . . lovek . . . port` of it.
        assertEquals(listOf("že", "včeraj", ".", ".", ".", "človek", ".", ".", ".", "šport"), tokens("Že včeraj ... človek ... šport"))
        assertEquals(listOf("café", "naïve", "zürich"), tokens("Café naïve Z\u00FCrich"))
        assertEquals(listOf("straße", "strasse"), tokens("STRAẞE STRASSE")) // lower case, not case folding
        assertEquals(listOf("фильм", "хороший", "!"), tokens("ФИЛЬМ хороший!"))
        assertEquals(listOf("٣٤٥", "१२३", "2024", "abc١٢٣"), tokens("٣٤٥ १२३ ２０２４ abc١٢٣"))
        assertEquals(listOf("日", "本", "語", "の", "映", "画"), tokens("日本語の映画"))
        assertEquals(listOf("हिन्दी", "फ़िल्म"), tokens("हिन्दी \u092b\u093c\u093f\u0932\u094d\u092e"))
    }

    @Test
    fun normalizesAndLowerCasesOneCodePointAtATime() {
        assertEquals(listOf("café", "človek"), tokens("Cafe\u0301 C\u030cLOVEK")) // NFD input
        assertEquals(listOf("film", "full", "!", "'s"), tokens("ﬁlm ＦＵＬＬ！ ＇ｓ")) // NFKC
        assertEquals(listOf("i"), tokens("I\u0307")) // NFKC makes İ, which is i
        assertEquals(listOf("istanbul", "istanbul", "ıslak"), tokens("İSTANBUL i\u0307stanbul ıslak"))
        // Σ and ς are both σ: String.lowercase() and Python place the final sigma differently.
        assertEquals(listOf("οδοσ", "οδόσ", "ασ1α"), tokens("ΟΔΟΣ οδός ΑΣ1Α"))
        assertEquals(listOf("ǰa", "alone"), tokens("J\u030cA \u0301alone")) // NFC after lower case; no leading mark
        assertEquals(0x69, TextCleaner.lowerCase(0x130))
    }

    @Test
    fun returnsNoTokensForEmptyOrSymbolOnlyText() {
        assertEquals(emptyList<String>(), tokens(""))
        assertEquals(emptyList<String>(), tokens("   \t\n "))
        assertEquals(emptyList<String>(), tokens("@#\$%^&*-_=+[]{}<>/\\|~;:\""))
        assertEquals(emptyList<String>(), tokens("😀 ☺ — “” ❤️ \u200d"))
        assertEquals(listOf("pad"), tokens("<pad>")) // special tokens cannot be typed
    }

    @Test
    fun cleanIsStepsOneToThree() {
        assertEquals("it 's a ,  b", TextCleaner.clean("It's a, b"))
        assertEquals(" . ", TextCleaner.clean("."))
    }

    private val vocabulary = Vocabulary.of(listOf("<pad>", "<unk>", "the", "film", ".", "n't", "do"))

    @Test
    fun encodesKnownUnknownAndPads() {
        val tokenizer = Tokenizer(vocabulary, seqLen = 6)
        assertArrayEquals(intArrayOf(2, 3, 1, 4, 0, 0), tokenizer.encode("The film rocks."))
        assertArrayEquals(intArrayOf(6, 5, 1, 0, 0, 0), tokenizer.encode("DON'T panic"))
        assertArrayEquals(intArrayOf(0, 0, 0, 0, 0, 0), tokenizer.encode(""))
    }

    @Test
    fun truncatesToTheFirstSeqLenIds() {
        val tokenizer = Tokenizer(vocabulary, seqLen = 3)
        assertArrayEquals(intArrayOf(2, 3, 2), tokenizer.encode("the film the film the"))
    }

    @Test
    fun rejectsNonPositiveSeqLen() {
        val error = assertThrows(IllegalArgumentException::class.java) { Tokenizer(vocabulary, 0) }
        assertTrue(error.message!!.contains("Received: seqLen=0"))
    }

    /** Invariants on odd random strings; the exact Python tokens are checked by TokenizerCasesTest. */
    @Test
    fun invariantsHoldOnRandomOddStrings() {
        val alphabet = ("abcXYZ019(),!?'`. \t\n\r\u000B\u000C\u00A0\u2028\u3000-_@#\"" +
            "éÀßİıﬁ日本😀\uD800\uDC00\u200D\u0301\u0000\uFEFF" +
            "čŠΣςΑ\u0307\u030C\uFE0FJｉ٣१ー").let { s ->
            // Split into code points so surrogate pairs stay whole most of the time.
            val points = ArrayList<String>()
            var i = 0
            while (i < s.length) {
                val n = Character.charCount(s.codePointAt(i))
                points += s.substring(i, i + n)
                i += n
            }
            points + listOf("'s", "n't", "'ve", "'re", "'d", "'ll", "\uD83D") // clitics, lone surrogate
        }
        val wordTypes = setOf(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11) // Character.getType: L, M, N
        val tokenizer = Tokenizer(vocabulary, seqLen = 7)
        val random = Random(20240611)
        repeat(3000) {
            val text = buildString { repeat(random.nextInt(0, 40)) { append(alphabet[random.nextInt(alphabet.size)]) } }
            val tokens = TextCleaner.tokenize(text)
            for (token in tokens) {
                assertTrue("empty token for <$text>", token.isNotEmpty())
                val points = token.codePoints().toArray()
                assertTrue(
                    "bad char in <$token> from <$text>",
                    points.all { (it < 0x80 && it.toChar() in TextCleaner.PUNCTUATION) || Character.getType(it) in wordTypes },
                )
                assertTrue("leading mark in <$token>", Character.getType(points[0]) !in 6..8)
                // Every token is one the rules make: alone, it comes back unchanged.
                assertEquals("<$token> from <$text>", listOf(token), TextCleaner.tokenize(token))
            }
            // Tokenizing the tokens joined by spaces gives them back.
            assertEquals("not idempotent for <$text>", tokens, TextCleaner.tokenize(tokens.joinToString(" ")))
            // Canonically equivalent texts give the same tokens.
            assertEquals(tokens, TextCleaner.tokenize(Normalizer.normalize(text, Normalizer.Form.NFD)))
            val ids = tokenizer.encode(text)
            assertEquals(7, ids.size)
            assertTrue(ids.all { it in 0 until vocabulary.size })
            val used = minOf(7, tokens.size)
            assertTrue(ids.drop(used).all { it == Vocabulary.PAD_ID })
            assertTrue(ids.take(used).none { it == Vocabulary.PAD_ID })
        }
    }
}
