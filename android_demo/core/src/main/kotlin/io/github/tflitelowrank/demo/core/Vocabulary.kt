package io.github.tflitelowrank.demo.core

/**
 * The token list of `vocab.txt`: line index = token id.
 *
 * Rules (docs/contracts.md, "Files"): UTF-8, `\n` line ends, line 0 is `<pad>`, line 1 is
 * `<unk>`, never an empty line. A missing final newline is accepted; `\r`, an empty line and
 * a token with whitespace or listed twice are errors (a duplicate would make "line index = id"
 * ambiguous); these are the checks of Python's `tflite_lowrank.text.Tokenizer` too.
 *
 * A Keras `TextVectorization` vocabulary (`get_vocabulary()`, one entry per line) is accepted
 * too ([isTextVectorization]): its line 0 is empty (padding, id 0) and line 1 is `[UNK]` (id 1);
 * its tokens may hold whitespace other than ASCII's, as the layer's tokens can.
 */
class Vocabulary private constructor(val tokens: List<String>) {
    private val ids: Map<String, Int> = HashMap<String, Int>(tokens.size * 2).apply {
        tokens.forEachIndexed { id, token -> put(token, id) }
    }

    val size: Int get() = tokens.size

    /** True for a Keras `TextVectorization` vocabulary: `""` then `[UNK]`. */
    val isTextVectorization: Boolean get() = tokens[PAD_ID] == TV_PAD_TOKEN && tokens[UNK_ID] == TV_UNK_TOKEN

    /** The id of [token], or [UNK_ID] when it is not in the vocabulary. */
    fun idOf(token: String): Int = ids[token] ?: UNK_ID

    operator fun contains(token: String): Boolean = token in ids

    companion object {
        const val PAD_ID: Int = 0
        const val UNK_ID: Int = 1
        const val PAD_TOKEN: String = "<pad>"
        const val UNK_TOKEN: String = "<unk>"
        const val TV_PAD_TOKEN: String = ""
        const val TV_UNK_TOKEN: String = "[UNK]"
        private const val ASCII_WHITESPACE: String = " \t\n\u000B\u000C\r"

        /** Parses the text of `vocab.txt`; throws [AssetException.InvalidVocabulary]. */
        fun parse(text: String): Vocabulary {
            if (text.isEmpty()) throw AssetException.InvalidVocabulary("the file is empty")
            val crIndex = text.indexOf('\r')
            if (crIndex >= 0) {
                val id = text.substring(0, crIndex).count { it == '\n' }
                throw AssetException.InvalidVocabulary(
                    "line $id (id $id) ends in a carriage return; the file must use \\n line ends",
                )
            }
            val body = if (text.endsWith('\n')) text.dropLast(1) else text
            return of(body.split('\n'))
        }

        /** Builds a vocabulary from its token list, with the same checks as [parse]. */
        fun of(tokens: List<String>): Vocabulary {
            if (tokens.size < 2) {
                throw AssetException.InvalidVocabulary(
                    "it has ${tokens.size} line(s) but needs at least `$PAD_TOKEN` and `$UNK_TOKEN`",
                )
            }
            val keras = tokens[PAD_ID] == TV_PAD_TOKEN && tokens[UNK_ID] == TV_UNK_TOKEN
            if (!keras && tokens[PAD_ID] != PAD_TOKEN) {
                throw AssetException.InvalidVocabulary(
                    "line 0 must be `$PAD_TOKEN`, found `${tokens[PAD_ID]}` (a Keras TextVectorization " +
                        "vocabulary has an empty line 0 and `$TV_UNK_TOKEN` on line 1)",
                )
            }
            if (!keras && tokens[UNK_ID] != UNK_TOKEN) {
                throw AssetException.InvalidVocabulary(
                    "line 1 must be `$UNK_TOKEN`, found `${tokens[UNK_ID]}` (`$TV_UNK_TOKEN` after an empty line 0)",
                )
            }
            val seen = HashMap<String, Int>(tokens.size * 2)
            tokens.forEachIndexed { id, token ->
                if (token.isEmpty() && !(keras && id == PAD_ID)) {
                    throw AssetException.InvalidVocabulary("line $id (id $id) is empty")
                }
                val whitespace = if (keras) {
                    token.any { it in ASCII_WHITESPACE }
                } else {
                    token.any { it.isWhitespace() || it == '\u0085' }
                }
                if (whitespace) {
                    throw AssetException.InvalidVocabulary("line $id (id $id) `$token` contains whitespace")
                }
                val first = seen.put(token, id)
                if (first != null) {
                    throw AssetException.InvalidVocabulary(
                        "token `$token` appears twice, at ids $first and $id",
                    )
                }
            }
            return Vocabulary(tokens.toList())
        }
    }
}

/** Class names of `labels.txt`: line index = class index of the model output. */
data class Labels(val names: List<String>) {
    val size: Int get() = names.size

    operator fun get(index: Int): String = names[index]

    fun indexOf(name: String): Int = names.indexOf(name)

    companion object {
        /** Parses `labels.txt`; throws [AssetException.LabelMismatch] on an invalid file. */
        fun parse(text: String): Labels {
            if (text.indexOf('\r') >= 0) {
                throw AssetException.LabelMismatch("the file has a carriage return; it must use \\n line ends")
            }
            val body = if (text.endsWith('\n')) text.dropLast(1) else text
            val names = if (body.isEmpty()) emptyList() else body.split('\n')
            if (names.isEmpty()) throw AssetException.LabelMismatch("the file has no labels")
            names.forEachIndexed { index, name ->
                if (name.isBlank()) throw AssetException.LabelMismatch("line $index (class $index) is empty")
                if (name.contains('\t')) {
                    throw AssetException.LabelMismatch("label `$name` contains a tab, which test_set.tsv cannot hold")
                }
            }
            val duplicates = names.groupingBy { it }.eachCount().filterValues { it > 1 }.keys
            if (duplicates.isNotEmpty()) {
                throw AssetException.LabelMismatch("label(s) ${duplicates.joinToString { "`$it`" }} appear more than once")
            }
            return Labels(names)
        }
    }
}
