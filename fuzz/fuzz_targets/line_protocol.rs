//! InfluxDB line protocol as the sidecar's time-series write route reads it: any text gives
//! points or a line error, never a panic, at every precision.

#![no_main]

use libfuzzer_sys::fuzz_target;
use polyroute_sidecar::fuzzing::{parse_line_protocol, Precision};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let precision = match selector % 4 {
        0 => Precision::Nanoseconds,
        1 => Precision::Microseconds,
        2 => Precision::Milliseconds,
        _ => Precision::Seconds,
    };
    let now = i64::from(selector) << 56;
    match parse_line_protocol(text, precision, now) {
        Ok(points) => {
            for point in &points {
                assert!(
                    !point.measurement.is_empty(),
                    "a point without a measurement: {point:?}"
                );
                assert!(
                    !point.fields.is_empty(),
                    "a point without fields: {point:?}"
                );
            }
        }
        Err(err) => assert!(err.line >= 1, "line numbers start at 1: {err:?}"),
    }
});
