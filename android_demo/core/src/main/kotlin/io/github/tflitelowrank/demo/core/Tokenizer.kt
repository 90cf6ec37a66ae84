package io.github.tflitelowrank.demo.core

/**
 * The text cleaning rules `tflite_lowrank-clean-v1` of docs/contracts.md, step by step.
 *
 * The Python twin is `tflite_lowrank/text.py`. Both must produce the same tokens for every
 * string; `tests/data/tokenizer_cases.json` (exported from Python) is the referee.
 */
object TextCleaner {
    /** The rules version that `manifest.json` and `tokenizer_cases.json` must name. */
    const val VERSION: String = "tflite_lowrank-clean-v1"

    /** Step 3: literal replacements, applied in this order, each to all occurrences. */
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

    /** Steps 1 to 3: the cleaned string whose space-separated parts are the tokens. */
    fun clean(text: String): String {
        val out = CharArray(text.length)
        for (i in text.indices) {
            val c = text[i]
            out[i] = when (c) {
                // Step 2 is folded in: only ASCII letters are lower-cased, independent of locale.
                in 'A'..'Z' -> c + ('a' - 'A')
                in 'a'..'z', in '0'..'9', '(', ')', ',', '!', '?', '\'', '`', '.' -> c
                // Step 1: everything else, whitespace and every non-ASCII UTF-16 unit included.
                else -> ' '
            }
        }
        var cleaned = String(out)
        for ((old, new) in REPLACEMENTS) cleaned = cleaned.replace(old, new)
        return cleaned
    }

    /** Step 4: the tokens of [text]; empty for a string with no letters, digits or punctuation. */
    fun tokenize(text: String): List<String> = clean(text).split(' ').filter { it.isNotEmpty() }
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
    /** Our `tflite_lowrank-clean-v1` rules ([TextCleaner]). */
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
