package io.github.tflitelowrank.demo.core

import org.junit.Assert.assertEquals
import org.junit.Test

/** Expected strings are Python 3's own output for the same values (f-strings). */
class PyFormatTest {
    @Test
    fun fixedRoundsTheBinaryValueHalfToEvenLikePython() {
        assertEquals("2.67", PyFormat.fixed(2.675, 2)) // String.format gives 2.68
        assertEquals("0.12", PyFormat.fixed(0.125, 2)) // String.format gives 0.13
        assertEquals("-0.0", PyFormat.fixed(-0.04, 1))
        assertEquals("631.8", PyFormat.fixed(631.7890625, 1))
        assertEquals("0.0", PyFormat.fixed(0.0, 1))
        assertEquals("333333.333", PyFormat.fixed(1e6 / 3, 3))
        assertEquals("nan", PyFormat.fixed(Double.NaN, 2))
    }

    @Test
    fun generalSwitchesToScientificAndStripsZerosLikePython() {
        val cases = mapOf(
            0.0033 to "0.0033",
            3.14159e-5 to "3.142e-05",
            12345.6 to "1.235e+04",
            1234.5 to "1234",
            0.00012345 to "0.0001234",
            0.5 to "0.5",
            100.0 to "100",
            1.0 to "1",
            0.1 to "0.1",
            2.5e-7 to "2.5e-07",
            -0.0042 to "-0.0042",
            0.0 to "0",
            99995.0 to "1e+05",
            9.9995 to "9.999",
        )
        for ((value, expected) in cases) assertEquals("$value", expected, PyFormat.general(value, 4))
    }

    @Test
    fun percentAndSigned() {
        assertEquals("60.16%", PyFormat.percent(761.0 / 1265))
        assertEquals("100.00%", PyFormat.percent(1.0))
        assertEquals("0.00%", PyFormat.percent(0.0))
        assertEquals("-0.79", PyFormat.signed(-0.79, 2))
        assertEquals("+0.00", PyFormat.signed(0.0, 2))
        assertEquals("+0.00", PyFormat.signed(0.004, 2))
        assertEquals("-0.00", PyFormat.signed(-0.004, 2))
    }
}
