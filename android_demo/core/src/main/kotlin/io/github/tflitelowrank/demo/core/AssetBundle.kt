package io.github.tflitelowrank.demo.core

/**
 * The exported assets after every check of the contract has passed.
 *
 * [load] checks, in this order, and stops at the first problem with a typed
 * [AssetException] whose message can be shown as is:
 * 1. `manifest.json` exists, parses, has the supported `format_version` and a `tokenizer`
 *    this app implements ([TokenizerMode]);
 * 2. every file it lists exists with the recorded `size_bytes` and `sha256`;
 * 3. `vocab.txt` follows the vocabulary rules and has `vocab_size` tokens, and so does each
 *    model's embedding table where the manifest records it;
 * 4. `labels.txt` has `num_labels` names;
 * 5. each model declares input int32 `[1, seq_len]` and output float32 `[1, num_labels]`;
 * 6. `test_set.tsv` and `golden.jsonl` parse against the labels and `seq_len`.
 * The runtime shapes of the loaded models are checked later by [ModelIo.check].
 */
class AssetBundle private constructor(
    val manifest: Manifest,
    val vocabulary: Vocabulary,
    val labels: Labels,
    val testSet: List<LabelledExample>,
    val golden: List<GoldenExample>,
) {
    /** Tokenizes by the rules `manifest.json` names (ours or Keras `TextVectorization`'s). */
    val tokenizer: Tokenizer =
        Tokenizer(vocabulary, manifest.seqLen, TokenizerMode.forVersion(manifest.tokenizer)!!)

    companion object {
        /**
         * Loads and checks the assets of [source]. [verifyChecksums] = false skips step 2's
         * sha256 (the sizes are still checked); the app always verifies.
         */
        fun load(source: AssetSource, verifyChecksums: Boolean = true): AssetBundle {
            val manifest = Manifest.parse(AssetFiles.readText(source, Manifest.FILE_NAME))

            for (entry in manifest.checkedFiles) {
                val digest = AssetFiles.digest(source, entry.file)
                if (digest.sizeBytes != entry.sizeBytes) {
                    throw AssetException.SizeMismatch(entry.file, entry.sizeBytes, digest.sizeBytes)
                }
                if (verifyChecksums && digest.sha256 != entry.sha256) {
                    throw AssetException.ChecksumMismatch(entry.file, entry.sha256, digest.sha256)
                }
            }

            val vocabulary = Vocabulary.parse(AssetFiles.readText(source, Manifest.VOCAB_FILE))
            if (vocabulary.size != manifest.vocabSize) {
                throw AssetException.VocabularyMismatch(Manifest.VOCAB_FILE, manifest.vocabSize, vocabulary.size)
            }
            for (model in manifest.models.values) {
                val rows = model.vocabSize ?: continue
                if (rows != manifest.vocabSize) {
                    throw AssetException.VocabularyMismatch("The embedding table of `${model.file}`", manifest.vocabSize, rows)
                }
            }

            val labels = Labels.parse(AssetFiles.readText(source, Manifest.LABELS_FILE))
            if (labels.size != manifest.numLabels) {
                throw AssetException.LabelMismatch(
                    "it has ${labels.size} labels but the models output num_labels=${manifest.numLabels} probabilities",
                )
            }

            for (model in manifest.models.values) ModelIo.checkDeclared(model, manifest)

            val testSet = TestSetReader.parse(AssetFiles.readText(source, Manifest.TEST_SET_FILE), labels)
            val golden = GoldenReader.parse(AssetFiles.readText(source, Manifest.GOLDEN_FILE), manifest)
            return AssetBundle(manifest, vocabulary, labels, testSet, golden)
        }
    }
}
