package io.github.tflitelowrank.demo

import android.app.Application
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import io.github.tflitelowrank.demo.core.AssetBundle
import io.github.tflitelowrank.demo.core.AssetException
import io.github.tflitelowrank.demo.core.BenchmarkConfig
import io.github.tflitelowrank.demo.core.BenchmarkProgress
import io.github.tflitelowrank.demo.core.BenchmarkReport
import io.github.tflitelowrank.demo.core.BenchmarkRunner
import io.github.tflitelowrank.demo.core.Classifier
import io.github.tflitelowrank.demo.core.EncodedExample
import io.github.tflitelowrank.demo.core.Manifest
import io.github.tflitelowrank.demo.core.ModelUnderTest
import io.github.tflitelowrank.demo.core.ReportRow
import io.github.tflitelowrank.demo.core.ReportTable
import io.github.tflitelowrank.demo.core.TestSetReader
import io.github.tflitelowrank.demo.core.TextClassification
import io.github.tflitelowrank.demo.core.classifyText
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.delay
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext

/** Whether the assets could be loaded; [Failed] carries the text the screen shows. */
sealed interface AssetsState {
    data object Loading : AssetsState

    data class Failed(val title: String, val message: String) : AssetsState

    data class Ready(val bundle: AssetBundle) : AssetsState
}

sealed interface BenchmarkState {
    data object Idle : BenchmarkState

    data class Running(val progress: BenchmarkProgress?) : BenchmarkState

    data class Done(val header: List<String>, val rows: List<ReportRow>, val report: BenchmarkReport) : BenchmarkState

    data class Failed(val message: String) : BenchmarkState
}

data class DemoUiState(
    val assets: AssetsState = AssetsState.Loading,
    val text: String = "",
    val classification: TextClassification? = null,
    val classifyError: String? = null,
    val benchmark: BenchmarkState = BenchmarkState.Idle,
)

/**
 * Loads and checks the assets once, keeps one interpreter per model for the text box, and
 * runs the benchmark with fresh interpreters (so that load time and memory are measured).
 *
 * Interpreters are not thread-safe: the text-box ones are only used on [interactive], a
 * one-thread view of the default dispatcher.
 */
@OptIn(ExperimentalCoroutinesApi::class)
class DemoViewModel(application: Application) : AndroidViewModel(application) {
    private val assets = application.assets
    private val interactive = Dispatchers.Default.limitedParallelism(1)
    private val _state = MutableStateFlow(DemoUiState())
    val state: StateFlow<DemoUiState> = _state.asStateFlow()

    private var bundle: AssetBundle? = null
    private var encodedTestSet: List<EncodedExample> = emptyList()
    // Touched only on `interactive`.
    private var classifiers: List<Classifier> = emptyList()
    private var cleared = false
    private var classifyJob: Job? = null
    private var benchmarkJob: Job? = null

    init {
        viewModelScope.launch { loadAssets() }
    }

    private suspend fun loadAssets() {
        val loaded = try {
            withContext(Dispatchers.IO) { AssetBundle.load(AndroidAssetSource(assets)) }
        } catch (e: AssetException) {
            _state.update { it.copy(assets = AssetsState.Failed(e.title, e.message ?: e.toString())) }
            return
        }
        try {
            withContext(interactive) { openInteractiveClassifiers(loaded) }
        } catch (e: AssetException) {
            _state.update { it.copy(assets = AssetsState.Failed(e.title, e.message ?: e.toString())) }
            return
        }
        bundle = loaded
        encodedTestSet = withContext(Dispatchers.Default) { TestSetReader.encode(loaded.testSet, loaded.tokenizer) }
        _state.update { it.copy(assets = AssetsState.Ready(loaded)) }
        val first = loaded.golden.firstOrNull()?.text ?: loaded.testSet.first().text
        onTextChange(first)
    }

    private fun openInteractiveClassifiers(loaded: AssetBundle) {
        if (cleared) return
        val opened = ArrayList<Classifier>()
        try {
            for (key in Manifest.MODEL_KEYS) {
                opened += LiteRtClassifier.load(assets, loaded.manifest.models.getValue(key), loaded.manifest)
            }
        } catch (e: Throwable) {
            opened.forEach { it.close() }
            throw e
        }
        classifiers = opened
    }

    /** Classifies [text] with both models, 150 ms after the last keystroke. */
    fun onTextChange(text: String) {
        _state.update { it.copy(text = text) }
        val loaded = bundle ?: return
        classifyJob?.cancel()
        classifyJob = viewModelScope.launch {
            delay(150)
            val result = runCatching {
                withContext(interactive) {
                    if (classifiers.isEmpty()) null else classifyText(text, loaded.tokenizer, loaded.labels, classifiers)
                }
            }
            result.exceptionOrNull()?.let { if (it is CancellationException) throw it }
            _state.update {
                it.copy(
                    classification = result.getOrNull() ?: it.classification,
                    classifyError = result.exceptionOrNull()?.let { e -> e.message ?: e.toString() },
                )
            }
        }
    }

    /**
     * Benchmarks both models on the bundled test set. The text-box interpreters are closed
     * meanwhile, so each model is the only one loaded while its memory delta is measured.
     */
    fun runBenchmark(config: BenchmarkConfig = BenchmarkConfig()) {
        val loaded = bundle ?: return
        if (benchmarkJob?.isActive == true) return
        _state.update { it.copy(benchmark = BenchmarkState.Running(null)) }
        benchmarkJob = viewModelScope.launch(Dispatchers.Default) {
            val job = coroutineContext.job
            try {
                withContext(interactive) { closeInteractiveClassifiers() }
                val models = Manifest.MODEL_KEYS.map { key ->
                    val entry = loaded.manifest.models.getValue(key)
                    ModelUnderTest(key, entry.sizeBytes) { LiteRtClassifier.load(assets, entry, loaded.manifest) }
                }
                val runner = BenchmarkRunner(config, memory = PssMemoryProbe)
                val report = runner.run(models, encodedTestSet, loaded.manifest.numLabels) { progress ->
                    job.ensureActive()
                    _state.update { it.copy(benchmark = BenchmarkState.Running(progress)) }
                }
                val done = BenchmarkState.Done(ReportTable.header(report), ReportTable.rows(report, loaded.manifest), report)
                _state.update { it.copy(benchmark = done) }
            } catch (e: CancellationException) {
                _state.update { it.copy(benchmark = BenchmarkState.Idle) }
                throw e
            } catch (e: Exception) {
                _state.update { it.copy(benchmark = BenchmarkState.Failed(e.message ?: e.toString())) }
            } finally {
                withContext(NonCancellable + interactive) {
                    if (classifiers.isEmpty() && !cleared) {
                        runCatching { openInteractiveClassifiers(loaded) }
                    }
                }
            }
        }
    }

    private fun closeInteractiveClassifiers() {
        classifiers.forEach { it.close() }
        classifiers = emptyList()
    }

    override fun onCleared() {
        benchmarkJob?.cancel()
        classifyJob?.cancel()
        // Close on the interpreters' own thread; `cleared` stops a finishing benchmark
        // from opening them again.
        runBlocking(interactive) {
            cleared = true
            closeInteractiveClassifiers()
        }
        super.onCleared()
    }
}
