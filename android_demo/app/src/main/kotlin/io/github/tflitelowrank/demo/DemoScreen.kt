package io.github.tflitelowrank.demo

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.imePadding
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import io.github.tflitelowrank.demo.core.AssetBundle
import io.github.tflitelowrank.demo.core.BenchmarkProgress
import io.github.tflitelowrank.demo.core.ModelAnswer
import io.github.tflitelowrank.demo.core.ReportRow
import io.github.tflitelowrank.demo.core.ReportTable
import io.github.tflitelowrank.demo.core.TextClassification
import java.util.Locale

/** Test tags used by the instrumentation tests. */
object Tags {
    const val ERROR = "asset_error"
    const val TEXT = "text_input"
    const val RESULT = "classification"
    const val RUN = "run_benchmark"
    const val TABLE = "benchmark_table"
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun DemoScreen(
    state: DemoUiState,
    onTextChange: (String) -> Unit,
    onRunBenchmark: () -> Unit,
) {
    Scaffold(topBar = { TopAppBar(title = { Text("Baseline vs low-rank") }) }) { padding ->
        Column(
            modifier = Modifier
                .fillMaxSize()
                .padding(padding)
                .imePadding()
                .verticalScroll(rememberScrollState())
                .padding(16.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp),
        ) {
            when (val assets = state.assets) {
                AssetsState.Loading -> Row(verticalAlignment = Alignment.CenterVertically) {
                    CircularProgressIndicator()
                    Spacer(Modifier.width(16.dp))
                    Text("Checking the assets (sha256, vocabulary, shapes)…")
                }
                is AssetsState.Failed -> AssetError(assets)
                is AssetsState.Ready -> {
                    ModelsCard(assets.bundle)
                    OutlinedTextField(
                        value = state.text,
                        onValueChange = onTextChange,
                        label = { Text("Type a sentence") },
                        enabled = state.benchmark !is BenchmarkState.Running,
                        modifier = Modifier.fillMaxWidth().testTag(Tags.TEXT),
                        minLines = 2,
                    )
                    state.classifyError?.let { Text(it, color = MaterialTheme.colorScheme.error) }
                    state.classification?.let { ClassificationCard(it, assets.bundle) }
                    BenchmarkCard(state.benchmark, assets.bundle, onRunBenchmark)
                }
            }
        }
    }
}

@Composable
private fun AssetError(failed: AssetsState.Failed) {
    Card(
        colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.errorContainer),
        modifier = Modifier.fillMaxWidth().testTag(Tags.ERROR),
    ) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(failed.title, style = MaterialTheme.typography.titleMedium, fontWeight = FontWeight.Bold)
            Text(failed.message, style = MaterialTheme.typography.bodyMedium)
            Text(
                "The app needs baseline.tflite, compressed.tflite, vocab.txt, labels.txt, " +
                    "manifest.json, test_set.tsv and golden.jsonl in android_demo/app/src/main/assets.",
                style = MaterialTheme.typography.bodySmall,
            )
        }
    }
}

@Composable
private fun ModelsCard(bundle: AssetBundle) {
    val manifest = bundle.manifest
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text("Models", style = MaterialTheme.typography.titleMedium)
            for (model in manifest.models.values) {
                Text(
                    "${model.key}: ${model.file}, ${ReportTable.formatBytes(model.sizeBytes)}, " +
                        ReportTable.describeModel(model),
                    style = MaterialTheme.typography.bodyMedium,
                )
            }
            Text(
                "seq_len ${manifest.seqLen} · vocabulary ${manifest.vocabSize} · " +
                    "labels ${bundle.labels.names.joinToString()} · ${bundle.testSet.size} test sentences",
                style = MaterialTheme.typography.bodySmall,
            )
        }
    }
}

@Composable
private fun ClassificationCard(result: TextClassification, bundle: AssetBundle) {
    Card(Modifier.fillMaxWidth().testTag(Tags.RESULT)) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Row(horizontalArrangement = Arrangement.spacedBy(12.dp)) {
                for (answer in result.answers) AnswerColumn(answer, bundle, Modifier.weight(1f))
            }
            Text(
                if (result.modelsAgree) "Both models agree." else "The models disagree.",
                style = MaterialTheme.typography.bodyMedium,
                fontWeight = FontWeight.Bold,
            )
            val unknown = result.tokenIds.count { it == 1 }
            val truncated = if (result.truncatedTokens > 0) ", ${result.truncatedTokens} cut off" else ""
            Text(
                "${result.tokens.size} tokens ($unknown unknown$truncated): " +
                    result.tokens.take(bundle.manifest.seqLen).joinToString(" "),
                style = MaterialTheme.typography.bodySmall,
                fontFamily = FontFamily.Monospace,
            )
        }
    }
}

@Composable
private fun AnswerColumn(answer: ModelAnswer, bundle: AssetBundle, modifier: Modifier) {
    Column(modifier, verticalArrangement = Arrangement.spacedBy(4.dp)) {
        Text(answer.key, style = MaterialTheme.typography.labelLarge)
        Text(
            answer.labelName,
            style = MaterialTheme.typography.titleLarge,
            fontWeight = FontWeight.Bold,
        )
        answer.probabilities.forEachIndexed { index, probability ->
            Text(
                String.format(Locale.ROOT, "%s %.1f %%", bundle.labels[index], probability * 100),
                style = MaterialTheme.typography.bodySmall,
            )
            LinearProgressIndicator(progress = { probability.coerceIn(0f, 1f) }, modifier = Modifier.fillMaxWidth())
        }
        Text(ReportTable.formatMillis(answer.latencyMillis), style = MaterialTheme.typography.bodySmall)
    }
}

@Composable
private fun BenchmarkCard(state: BenchmarkState, bundle: AssetBundle, onRunBenchmark: () -> Unit) {
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text("Benchmark", style = MaterialTheme.typography.titleMedium)
            Text(
                "Loads each model afresh, warms it up, then times one inference per test sentence " +
                    "(${bundle.testSet.size}) on 1 thread with XNNPACK.",
                style = MaterialTheme.typography.bodySmall,
            )
            Button(
                onClick = onRunBenchmark,
                enabled = state !is BenchmarkState.Running,
                modifier = Modifier.testTag(Tags.RUN),
            ) { Text("Run benchmark") }
            when (state) {
                BenchmarkState.Idle -> Unit
                is BenchmarkState.Running -> Progress(state.progress)
                is BenchmarkState.Failed -> Text(state.message, color = MaterialTheme.colorScheme.error)
                is BenchmarkState.Done -> {
                    ResultsTable(state.header, state.rows)
                    Text(
                        "Latency percentiles interpolate linearly (numpy's default). Memory Δ is the " +
                            "change in the process PSS across load and warm-up.",
                        style = MaterialTheme.typography.bodySmall,
                    )
                }
            }
        }
    }
}

@Composable
private fun Progress(progress: BenchmarkProgress?) {
    if (progress == null) {
        LinearProgressIndicator(modifier = Modifier.fillMaxWidth())
        Text("Starting…", style = MaterialTheme.typography.bodySmall)
        return
    }
    LinearProgressIndicator(progress = { progress.fraction }, modifier = Modifier.fillMaxWidth())
    val phase = when (progress.phase) {
        BenchmarkProgress.Phase.LOADING -> "loading"
        BenchmarkProgress.Phase.WARMUP -> "warming up"
        BenchmarkProgress.Phase.TIMING -> "timing"
        BenchmarkProgress.Phase.FINISHED -> "finished"
    }
    Text("${progress.model}: $phase (${progress.done}/${progress.total})", style = MaterialTheme.typography.bodySmall)
}

@Composable
private fun ResultsTable(header: List<String>, rows: List<ReportRow>) {
    Column(Modifier.fillMaxWidth().testTag(Tags.TABLE)) {
        TableRow(header, bold = true)
        HorizontalDivider()
        for (row in rows) {
            TableRow(listOf(row.metric) + row.cells, bold = false)
            Spacer(Modifier.height(2.dp))
        }
    }
}

@Composable
private fun TableRow(cells: List<String>, bold: Boolean) {
    Row(Modifier.fillMaxWidth().padding(vertical = 2.dp)) {
        cells.forEachIndexed { index, cell ->
            Text(
                cell,
                modifier = Modifier.weight(if (index == 0) 1.1f else 1f),
                style = MaterialTheme.typography.bodySmall,
                fontWeight = if (bold || index == 0) FontWeight.Bold else FontWeight.Normal,
                textAlign = if (index == 0) TextAlign.Start else TextAlign.End,
            )
        }
    }
}
