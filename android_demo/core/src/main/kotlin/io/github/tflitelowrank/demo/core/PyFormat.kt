package io.github.tflitelowrank.demo.core

import java.math.BigDecimal
import java.math.MathContext
import java.math.RoundingMode

/**
 * Python's float formatting (`f"{x:.2f}"`, `f"{x:.4g}"`, `f"{x:.2%}"`), so that the phone's
 * Markdown table prints the same digits as `tflite-lowrank compare` for the same values.
 * Python rounds the exact binary value half-to-even; `String.format` rounds the shortest
 * decimal half-up, which differs on values such as 2.675 or 0.125.
 */
object PyFormat {
    /** `f"{value:.{decimals}f}"`. */
    fun fixed(value: Double, decimals: Int): String {
        require(decimals >= 0) { "`decimals` must be >= 0. Received: decimals=$decimals" }
        special(value)?.let { return it }
        val text = BigDecimal(value).setScale(decimals, RoundingMode.HALF_EVEN).toPlainString()
        return withSign(value, text)
    }

    /** `f"{value:.{precision}g}"`: fixed or scientific, trailing zeros removed. */
    fun general(value: Double, precision: Int): String {
        require(precision >= 1) { "`precision` must be >= 1. Received: precision=$precision" }
        special(value)?.let { return it }
        if (value == 0.0) return if (1.0 / value < 0) "-0" else "0"
        val rounded = BigDecimal(value).round(MathContext(precision, RoundingMode.HALF_EVEN))
        val exponent = rounded.precision() - rounded.scale() - 1
        return if (exponent >= -4 && exponent < precision) {
            stripZeros(rounded.setScale(precision - 1 - exponent, RoundingMode.HALF_EVEN).toPlainString())
        } else {
            val mantissa = rounded.movePointLeft(exponent).setScale(precision - 1, RoundingMode.HALF_EVEN)
            val sign = if (exponent < 0) "-" else "+"
            val digits = kotlin.math.abs(exponent).toString().padStart(2, '0')
            "${stripZeros(mantissa.toPlainString())}e$sign$digits"
        }
    }

    /** `f"{share:.{decimals}%}"`, e.g. `60.16%`. */
    fun percent(share: Double, decimals: Int = 2): String = fixed(share * 100, decimals) + "%"

    /** `f"{value:+.{decimals}f}"`. */
    fun signed(value: Double, decimals: Int): String {
        val text = fixed(value, decimals)
        return if (text.startsWith("-") || text == "nan") text else "+$text"
    }

    private fun special(value: Double): String? = when {
        value.isNaN() -> "nan"
        value == Double.POSITIVE_INFINITY -> "inf"
        value == Double.NEGATIVE_INFINITY -> "-inf"
        else -> null
    }

    // BigDecimal drops the sign of a value that rounds to zero; Python keeps it (-0.04 -> "-0.0").
    private fun withSign(value: Double, text: String): String =
        if ((value < 0 || (value == 0.0 && 1.0 / value < 0)) && !text.startsWith("-")) "-$text" else text

    private fun stripZeros(text: String): String =
        if ('.' in text) text.trimEnd('0').trimEnd('.') else text
}
