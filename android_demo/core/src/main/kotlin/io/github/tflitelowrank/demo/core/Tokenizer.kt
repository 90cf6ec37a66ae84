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
 * Turns text into the model input: the first [seqLen] token ids, right-padded with
 * [Vocabulary.PAD_ID]; tokens missing from the vocabulary become [Vocabulary.UNK_ID].
 */
class Tokenizer(val vocabulary: Vocabulary, val seqLen: Int) {
    init {
        require(seqLen > 0) { "`seqLen` must be a positive integer. Received: seqLen=$seqLen" }
    }

    fun tokenize(text: String): List<String> = TextCleaner.tokenize(text)

    fun encode(text: String): IntArray = encodeTokens(tokenize(text))

    fun encodeTokens(tokens: List<String>): IntArray {
        val ids = IntArray(seqLen) // zero-filled = Vocabulary.PAD_ID
        for (i in 0 until minOf(seqLen, tokens.size)) ids[i] = vocabulary.idOf(tokens[i])
        return ids
    }
}
