package io.github.tflitelowrank.demo.core

import io.github.tflitelowrank.demo.core.testing.Fixtures
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/**
 * Replays the golden cases exported from Python (`tests/data/tokenizer_cases.json`, see
 * docs/contracts.md): every case's tokens and token ids must be reproduced exactly, for our
 * rules and for the `text_vectorization` section, made by a real Keras `TextVectorization`. A
 * missing file is a failure, not a skip: without it nothing proves that Kotlin and Python agree.
 */
class TokenizerCasesTest {
    private data class Case(val index: Int, val text: String, val tokens: List<String>, val tokenIds: List<Int>)

    private class Cases(val tokenizer: String, val seqLen: Int, val vocab: List<String>, val cases: List<Case>)

    private fun load(): Cases {
        val file = File(Fixtures.repoRoot(), "tests/data/tokenizer_cases.json")
        if (!file.isFile) {
            fail("${file.path} is missing: the Python side must export the tokenizer golden cases (docs/contracts.md)")
        }
        return section(Json.parse(file.readText(Charsets.UTF_8)).asObject("cases_file"))
    }

    /** The `text_vectorization` section: the same shape, made by Keras. */
    private fun loadTextVectorization(): Cases {
        val file = File(Fixtures.repoRoot(), "tests/data/tokenizer_cases.json")
        val root = Json.parse(file.readText(Charsets.UTF_8)).asObject("cases_file")
        return section(root.required("text_vectorization", "root").asObject("text_vectorization"))
    }

    private fun section(root: JsonObject): Cases {
        val cases = root.required("cases", "root").asArray("cases").items.mapIndexed { i, item ->
            val case = item.asObject("cases[$i]")
            Case(
                index = i,
                text = case.required("text", "cases[$i]").asString("cases[$i].text"),
                tokens = case.required("tokens", "cases[$i]").asArray("tokens").items.map { it.asString("token") },
                tokenIds = case.required("token_ids", "cases[$i]").asArray("token_ids").items.map { it.asInt("id") },
            )
        }
        return Cases(
            tokenizer = root.required("tokenizer", "root").asString("tokenizer"),
            seqLen = root.required("seq_len", "root").asInt("seq_len"),
            vocab = root.required("vocab", "root").asArray("vocab").items.map { it.asString("vocab[]") },
            cases = cases,
        )
    }

    @Test
    fun namesTheRulesVersionThisTokenizerImplements() {
        assertEquals(TextCleaner.VERSION, load().tokenizer)
    }

    @Test
    fun hasEnoughCasesToMeanSomething() {
        val cases = load().cases
        assertTrue("only ${cases.size} cases", cases.size >= 20)
        assertTrue("no empty text case", cases.any { it.text.isEmpty() })
        assertTrue("no non-ASCII case", cases.any { c -> c.text.any { it.code > 0x7F } })
        assertTrue("no case longer than seq_len", cases.any { it.tokens.size > load().seqLen })
    }

    @Test
    fun coversEveryScriptOfIssue30() {
        val texts = load().cases.joinToString("\n") { it.text }
        val samples = listOf(
            "človek", "Straße", "œuvre", "Фильм", "ΟΔΟΣ", "İstanbul", "رائع", "👍🏽", "映画", "١٢٣abc", "१२३",
            "c\u030clovek", "ＦＵＬＬ",
        )
        for (sample in samples) assertTrue("no case with <$sample>", sample in texts)
    }

    @Test
    fun reproducesEveryCaseTokensExactly() {
        val mismatches = load().cases.mapNotNull { case ->
            val actual = TextCleaner.tokenize(case.text)
            if (actual == case.tokens) null else "case ${case.index} ${quote(case.text)}: Kotlin $actual, Python ${case.tokens}"
        }
        assertTrue("${mismatches.size} token mismatches:\n" + mismatches.take(20).joinToString("\n"), mismatches.isEmpty())
    }

    @Test
    fun reproducesEveryCaseTokenIdsExactly() {
        val data = load()
        val tokenizer = Tokenizer(Vocabulary.of(data.vocab), data.seqLen)
        val mismatches = data.cases.mapNotNull { case ->
            val actual = tokenizer.encode(case.text).toList()
            if (actual == case.tokenIds) null else "case ${case.index} ${quote(case.text)}: Kotlin $actual, Python ${case.tokenIds}"
        }
        assertTrue("${mismatches.size} id mismatches:\n" + mismatches.take(20).joinToString("\n"), mismatches.isEmpty())
    }

    @Test
    fun textVectorizationSectionNamesItsRulesAndHasTheHardCases() {
        val data = loadTextVectorization()
        assertEquals(TextVectorizationTokens.VERSION, data.tokenizer)
        assertEquals(listOf("", "[UNK]"), data.vocab.take(2))
        val texts = data.cases.map { it.text }
        assertTrue("NASA case missing", "NASA's Hubble-telescope isn't dead!" in texts)
        assertTrue("no empty text case", "" in texts)
        assertTrue("no case longer than seq_len", data.cases.any { it.tokens.size > data.seqLen })
        assertTrue("no non-BMP case", data.cases.any { c -> c.text.any { it.isSurrogate() } })
    }

    @Test
    fun reproducesEveryTextVectorizationCaseTokensExactly() {
        val mismatches = loadTextVectorization().cases.mapNotNull { case ->
            val actual = TextVectorizationTokens.tokenize(case.text)
            if (actual == case.tokens) null else "case ${case.index} ${quote(case.text)}: Kotlin $actual, Keras ${case.tokens}"
        }
        assertTrue("${mismatches.size} token mismatches:\n" + mismatches.take(20).joinToString("\n"), mismatches.isEmpty())
    }

    @Test
    fun reproducesEveryTextVectorizationCaseTokenIdsExactly() {
        val data = loadTextVectorization()
        val vocabulary = Vocabulary.parse(data.vocab.joinToString("\n", postfix = "\n"))
        val tokenizer = Tokenizer(vocabulary, data.seqLen)
        assertEquals(TokenizerMode.TEXT_VECTORIZATION, tokenizer.mode)
        val mismatches = data.cases.mapNotNull { case ->
            val actual = tokenizer.encode(case.text).toList()
            if (actual == case.tokenIds) null else "case ${case.index} ${quote(case.text)}: Kotlin $actual, Keras ${case.tokenIds}"
        }
        assertTrue("${mismatches.size} id mismatches:\n" + mismatches.take(20).joinToString("\n"), mismatches.isEmpty())
    }

    private fun quote(text: String): String = buildString {
        append('"')
        for (c in text.take(80)) if (c.code in 0x20..0x7E) append(c) else append("\\u%04x".format(c.code))
        if (text.length > 80) append("…")
        append('"')
    }
}
