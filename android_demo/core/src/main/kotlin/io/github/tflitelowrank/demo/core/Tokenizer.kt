package io.github.tflitelowrank.demo.core

import java.text.Normalizer

/**
 * The text cleaning rules `tflite_lowrank-clean-v2` of docs/contracts.md, step by step: the
 * letters, combining marks and digits of every script are kept (v1 kept ASCII only).
 *
 * The Python twin is `tflite_lowrank/data/clean_rules.py`. Both must produce the same tokens
 * for every string; `tests/data/tokenizer_cases.json` (exported from Python) is the referee.
 * Both read their platform's Unicode data (categories, lower case, NFKC): characters newer
 * than the Unicode version of one of them may give different tokens.
 */
object TextCleaner {
    /** The rules version that `manifest.json` and `tokenizer_cases.json` must name. */
    const val VERSION: String = "tflite_lowrank-clean-v2"

    /** The punctuation the rules keep; every other character that is not a word character is a space. */
    const val PUNCTUATION: String = "(),!?'`."

    /** CJK ideographs, inclusive code point ranges: each one is a token of its own. */
    val HAN_RANGES: List<IntRange> = listOf(0x3400..0x4DBF, 0x4E00..0x9FFF, 0xF900..0xFAFF, 0x20000..0x3FFFF)

    /** Step 5: literal replacements, applied in this order, each to all occurrences. */
    private val REPLACEMENTS: List<Pair<String, String>> = listOf(
        "'s" to " 's",
        "'ve" to " 've",
        "n't" to " n't",
        "'re" to " 're",
        "'d" to " 'd",
        "'ll" to " 'll",
        "," to " , ",
        "!" to " ! ",
        "(" to " ( ",
        ")" to " ) ",
        "?" to " ? ",
        "." to " . ",
    )

    /** Step 3: the dots above (U+0307) right after an `i`. */
    private val I_DOT = Regex("i\u0307+")

    /** Letters (L), marks (M) and numbers (N) of `Character.getType`. */
    private val WORD_TYPES: Set<Int> = setOf(
        Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
        Character.MODIFIER_LETTER, Character.OTHER_LETTER,
        Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK,
        Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER,
    ).map { it.toInt() }.toSet()

    private val MARK_TYPES: Set<Int> = setOf(
        Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK,
    ).map { it.toInt() }.toSet()

    /** Steps 1 to 5: the cleaned string whose space-separated parts are the tokens (before step 6). */
    fun clean(text: String): String {
        var cleaned = if (text.all { it.code < 0x80 }) cleanAscii(text) else cleanUnicode(text)
        for ((old, new) in REPLACEMENTS) cleaned = cleaned.replace(old, new)
        return cleaned
    }

    /**
     * Step 6: the tokens of [text], without the combining marks a token starts with; empty for
     * a string with no letters, digits or kept punctuation.
     */
    fun tokenize(text: String): List<String> =
        clean(text).split(' ').map(::dropLeadingMarks).filter { it.isNotEmpty() }

    /** ASCII text: steps 2 and 3 only touch ASCII letters, and step 1 changes nothing. */
    private fun cleanAscii(text: String): String {
        val out = CharArray(text.length)
        for (i in text.indices) {
            val c = text[i]
            out[i] = when (c) {
                in 'A'..'Z' -> c + ('a' - 'A') // Independent of the locale.
                in 'a'..'z', in '0'..'9', in PUNCTUATION -> c
                else -> ' '
            }
        }
        return String(out)
    }

    private fun cleanUnicode(text: String): String {
        // Step 1: NFKC.
        val normalized = Normalizer.normalize(text, Normalizer.Form.NFKC)
        val out = StringBuilder(normalized.length + 16)
        var i = 0
        while (i < normalized.length) {
            val cp = normalized.codePointAt(i) // A lone surrogate is its own code point.
            i += Character.charCount(cp)
            when {
                cp < 0x80 && cp.toChar() in PUNCTUATION -> out.append(cp.toChar())
                // Step 2: anything but a letter, mark or number is a space.
                Character.getType(cp) !in WORD_TYPES -> out.append(' ')
                // Step 4: an ideograph is a token of its own.
                HAN_RANGES.any { cp in it } -> out.append(' ').appendCodePoint(lowerCase(cp)).append(' ')
                else -> out.appendCodePoint(lowerCase(cp))
            }
        }
        // Step 3, end: no dot above after i, and NFC again (a lower-case letter may compose).
        return Normalizer.normalize(I_DOT.replace(out, "i"), Normalizer.Form.NFC)
    }

    /** Step 3: one code point's simple lower case, `İ` to `i`, final `ς` to `σ`. */
    fun lowerCase(codePoint: Int): Int = when (codePoint) {
        0x0130 -> 'i'.code
        0x03C2 -> 0x03C3
        else -> Character.toLowerCase(codePoint)
    }

    private fun dropLeadingMarks(token: String): String {
        var start = 0
        while (start < token.length) {
            val cp = token.codePointAt(start)
            if (Character.getType(cp) !in MARK_TYPES) break
            start += Character.charCount(cp)
        }
        return token.substring(start)
    }
}

/**
 * The tokens of a default `keras.layers.TextVectorization` (`standardize=
 * "lower_and_strip_punctuation"`, `split="whitespace"`): rules `keras-text-vectorization-v1` of
 * docs/contracts.md. The Python twin is `tflite_lowrank/data/text_vectorization.py`; the
 * `text_vectorization` section of `tests/data/tokenizer_cases.json`, made by a real Keras layer,
 * is the referee.
 *
 * TensorFlow works on UTF-8 bytes with RE2, but its pattern and its whitespace are ASCII only,
 * so working on UTF-16 units here touches exactly the same characters.
 */
object TextVectorizationTokens {
    /** The rules version that `manifest.json` and `tokenizer_cases.json` name. */
    const val VERSION: String = "keras-text-vectorization-v1"

    /** TensorFlow's punctuation pattern, as Keras passes it to `tf.strings.regex_replace`. */
    const val STRIP_PUNCTUATION_PATTERN: String = """[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']"""

    private val STRIP = Regex(STRIP_PUNCTUATION_PATTERN)

    /** `tf.strings.split` without a separator: runs of space, \t, \n, \u000B, \u000C, \r. */
    private val ASCII_WHITESPACE = Regex("[ \t\n\u000B\u000C\r]+")

    /** Step 1: lower-cases ASCII `A-Z` only, as `tf.strings.lower` without an encoding. */
    fun lowerAscii(text: String): String {
        val out = CharArray(text.length)
        for (i in text.indices) {
            val c = text[i]
            out[i] = if (c in 'A'..'Z') c + ('a' - 'A') else c
        }
        return String(out)
    }

    /** Steps 1 to 3: lower-case, delete the punctuation, split on ASCII whitespace. */
    fun tokenize(text: String): List<String> =
        STRIP.replace(lowerAscii(text), "").split(ASCII_WHITESPACE).filter { it.isNotEmpty() }
}

/** How text becomes tokens; [version] is the name `manifest.json` uses. */
enum class TokenizerMode(val version: String) {
    /** Our `tflite_lowrank-clean-v2` rules ([TextCleaner]). */
    CLEAN(TextCleaner.VERSION) {
        override fun tokenize(text: String): List<String> = TextCleaner.tokenize(text)
    },

    /** A default Keras `TextVectorization` ([TextVectorizationTokens]). */
    TEXT_VECTORIZATION(TextVectorizationTokens.VERSION) {
        override fun tokenize(text: String): List<String> = TextVectorizationTokens.tokenize(text)
    },
    ;

    abstract fun tokenize(text: String): List<String>

    companion object {
        /** The mode named [version], or null when this app does not know it. */
        fun forVersion(version: String): TokenizerMode? = entries.firstOrNull { it.version == version }

        /** The mode a vocabulary was made for: Keras's `""`, `[UNK]` first, or ours. */
        fun forVocabulary(vocabulary: Vocabulary): TokenizerMode =
            if (vocabulary.isTextVectorization) TEXT_VECTORIZATION else CLEAN
    }
}

/**
 * Turns text into the model input: the first [seqLen] token ids, right-padded with
 * [Vocabulary.PAD_ID]; tokens missing from the vocabulary become [Vocabulary.UNK_ID]. [mode]
 * defaults to the one the vocabulary was made for ([TokenizerMode.forVocabulary]).
 */
class Tokenizer(
    val vocabulary: Vocabulary,
    val seqLen: Int,
    val mode: TokenizerMode = TokenizerMode.forVocabulary(vocabulary),
) {
    init {
        require(seqLen > 0) { "`seqLen` must be a positive integer. Received: seqLen=$seqLen" }
    }

    fun tokenize(text: String): List<String> = mode.tokenize(text)

    fun encode(text: String): IntArray = encodeTokens(tokenize(text))

    fun encodeTokens(tokens: List<String>): IntArray {
        val ids = IntArray(seqLen) // zero-filled = Vocabulary.PAD_ID
        for (i in 0 until minOf(seqLen, tokens.size)) ids[i] = vocabulary.idOf(tokens[i])
        return ids
    }
}
