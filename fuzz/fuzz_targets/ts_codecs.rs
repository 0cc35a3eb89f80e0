//! The time-series column codecs, sealed blocks and segment files: arbitrary bytes decode to
//! values or a corruption error, never a panic (nor an allocation the input does not pay for),
//! and what the encoders write decodes back to exactly the values written.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use polyroute::time_series::FieldValue;
use polyroute_adapters::embedded::time_series::fuzzing::{
    ts_block_round_trip, ts_decode_block, ts_decode_bools, ts_decode_floats, ts_decode_ints,
    ts_decode_segment, ts_decode_strings, ts_decode_timestamps, ts_encode_bools, ts_encode_floats,
    ts_encode_ints, ts_encode_strings, ts_encode_timestamps,
};

#[derive(Arbitrary, Debug)]
enum Kind {
    Float,
    Int,
    Bool,
    Text,
}

#[derive(Arbitrary, Debug)]
struct ArbColumn {
    name: String,
    kind: Kind,
    /// One entry per row: `None` for a row without the field; the value's source otherwise.
    values: Vec<Option<(u64, String)>>,
}

#[derive(Arbitrary, Debug)]
enum Input {
    /// Each codec's decoder on arbitrary bytes.
    Decode { codec: u8, n: u16, bytes: Vec<u8> },
    /// A sealed block read from arbitrary bytes, every column decoded.
    Block(Vec<u8>),
    /// A segment file body (its checksum added) decoded and read every way.
    Segment { body: Vec<u8>, cut: i64 },
    /// Every codec's encode → decode round trip.
    Codecs {
        timestamps: Vec<i64>,
        ints: Vec<i64>,
        floats: Vec<u64>,
        bools: Vec<bool>,
        strings: Vec<String>,
    },
    /// A block's encode → write → read → decode round trip.
    RoundTrip {
        timestamps: BTreeSet<i64>,
        columns: Vec<ArbColumn>,
    },
}

fn value(kind: &Kind, (bits, text): (u64, String)) -> FieldValue {
    match kind {
        Kind::Float => FieldValue::Float(f64::from_bits(bits)),
        Kind::Int => FieldValue::Int(bits as i64),
        Kind::Bool => FieldValue::Bool(bits & 1 == 1),
        Kind::Text => FieldValue::Text(text),
    }
}

/// Field values equal, floats by their bits.
fn same(a: &Option<FieldValue>, b: &Option<FieldValue>) -> bool {
    match (a, b) {
        (Some(FieldValue::Float(x)), Some(FieldValue::Float(y))) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fuzz_target!(|input: Input| match input {
    Input::Decode { codec, n, bytes } => {
        let n = usize::from(n);
        let decoded_len = match codec % 5 {
            0 => ts_decode_timestamps(&bytes, n).map(|v| v.len()),
            1 => ts_decode_ints(&bytes, n).map(|v| v.len()),
            2 => ts_decode_floats(&bytes, n).map(|v| v.len()),
            3 => ts_decode_bools(&bytes, n).map(|v| v.len()),
            _ => ts_decode_strings(&bytes, n).map(|v| v.len()),
        };
        if let Some(len) = decoded_len {
            assert_eq!(
                len, n,
                "a decoder returned another number of values than asked"
            );
        }
    }
    Input::Block(bytes) => {
        if let Some((timestamps, columns)) = ts_decode_block(&bytes) {
            for (name, values) in &columns {
                assert_eq!(
                    values.len(),
                    timestamps.len(),
                    "column `{name}` is not aligned with the block's rows"
                );
            }
        }
    }
    Input::Segment { body, cut } => {
        let _ = ts_decode_segment(&body, cut);
    }
    Input::Codecs {
        timestamps,
        ints,
        floats,
        bools,
        strings,
    } => {
        let bytes = ts_encode_timestamps(&timestamps);
        assert_eq!(
            ts_decode_timestamps(&bytes, timestamps.len()).as_ref(),
            Some(&timestamps)
        );
        let bytes = ts_encode_ints(&ints);
        assert_eq!(ts_decode_ints(&bytes, ints.len()).as_ref(), Some(&ints));
        let values: Vec<f64> = floats.iter().map(|b| f64::from_bits(*b)).collect();
        let bytes = ts_encode_floats(&values);
        let back: Option<Vec<u64>> =
            ts_decode_floats(&bytes, values.len()).map(|v| v.iter().map(|f| f.to_bits()).collect());
        assert_eq!(
            back.as_ref(),
            Some(&floats),
            "floats changed bits in a round trip"
        );
        let bytes = ts_encode_bools(&bools);
        assert_eq!(ts_decode_bools(&bytes, bools.len()).as_ref(), Some(&bools));
        let bytes = ts_encode_strings(&strings);
        assert_eq!(
            ts_decode_strings(&bytes, strings.len()).as_ref(),
            Some(&strings)
        );
    }
    Input::RoundTrip {
        timestamps,
        columns,
    } => {
        let timestamps: Vec<i64> = timestamps.into_iter().collect();
        let rows = timestamps.len();
        let mut fields: BTreeMap<String, Vec<Option<FieldValue>>> = BTreeMap::new();
        for column in columns {
            let mut values: Vec<Option<FieldValue>> = column
                .values
                .into_iter()
                .map(|v| v.map(|v| value(&column.kind, v)))
                .collect();
            values.resize(rows, None);
            fields.insert(column.name, values);
        }
        let Some((back_ts, back_fields)) = ts_block_round_trip(&timestamps, &fields) else {
            assert!(
                timestamps.is_empty(),
                "a block of {rows} rows does not read back"
            );
            return;
        };
        assert_eq!(
            back_ts, timestamps,
            "timestamps changed in a block round trip"
        );
        // Columns without any value are not stored.
        fields.retain(|_, values| values.iter().any(Option::is_some));
        assert_eq!(
            back_fields.keys().collect::<Vec<_>>(),
            fields.keys().collect::<Vec<_>>(),
            "columns changed in a block round trip"
        );
        for (name, values) in &fields {
            let back = &back_fields[name];
            assert_eq!(back.len(), values.len(), "column `{name}` changed length");
            for (a, b) in values.iter().zip(back) {
                assert!(same(a, b), "column `{name}`: {a:?} came back as {b:?}");
            }
        }
    }
});
