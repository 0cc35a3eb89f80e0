//! Sealed blocks: the points of one series in one partition, sorted by time, one per timestamp,
//! stored as compressed columns that queries decode one at a time.

use std::collections::BTreeMap;

use super::codec::{self, put_bytes, put_uvarint, Corrupt, Decoded, Reader};
use crate::kinds::time_series::FieldValue;

/// The type of a field, fixed per measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldType {
    Float = 1,
    Int = 2,
    Bool = 3,
    Text = 4,
}

impl FieldType {
    pub(crate) fn of(value: &FieldValue) -> Self {
        match value {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Int(_) => FieldType::Int,
            FieldValue::Bool(_) => FieldType::Bool,
            FieldValue::Text(_) => FieldType::Text,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Int => "integer",
            FieldType::Bool => "boolean",
            FieldType::Text => "string",
        }
    }

    pub(crate) fn from_byte(byte: u8) -> Decoded<Self> {
        Ok(match byte {
            1 => FieldType::Float,
            2 => FieldType::Int,
            3 => FieldType::Bool,
            4 => FieldType::Text,
            _ => return Err(Corrupt),
        })
    }
}

/// One compressed field column: which rows have a value, and those values.
#[derive(Clone, Debug)]
pub(crate) struct Column {
    kind: FieldType,
    /// Bitmap of the rows holding a value; `None` when every row does.
    present: Option<Vec<u8>>,
    /// How many rows hold a value.
    count: usize,
    data: Vec<u8>,
}

/// The points of one series, sorted by time with distinct timestamps, as compressed columns.
#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub(crate) len: usize,
    pub(crate) min: i64,
    pub(crate) max: i64,
    timestamps: Vec<u8>,
    columns: BTreeMap<String, Column>,
}

/// A decoded column: one optional value per row.
pub(crate) type Values = Vec<Option<FieldValue>>;

impl Block {
    /// Compresses rows already sorted by time with distinct timestamps.
    pub(crate) fn encode(timestamps: &[i64], fields: &BTreeMap<String, Values>) -> Option<Block> {
        let (&min, &max) = (timestamps.first()?, timestamps.last()?);
        let columns = fields
            .iter()
            .filter_map(|(name, values)| Some((name.clone(), encode_column(values)?)))
            .collect();
        Some(Block {
            len: timestamps.len(),
            min,
            max,
            timestamps: codec::encode_timestamps(timestamps),
            columns,
        })
    }

    pub(crate) fn timestamps(&self) -> Decoded<Vec<i64>> {
        codec::decode_timestamps(&self.timestamps, self.len)
    }

    pub(crate) fn field_names(&self) -> impl Iterator<Item = &str> {
        self.columns.keys().map(String::as_str)
    }

    pub(crate) fn field_type(&self, field: &str) -> Option<FieldType> {
        self.columns.get(field).map(|c| c.kind)
    }

    /// The column of `field`, or `None` when no row of the block has it.
    pub(crate) fn column(&self, field: &str) -> Decoded<Option<Values>> {
        let Some(column) = self.columns.get(field) else {
            return Ok(None);
        };
        let values: Vec<FieldValue> = match column.kind {
            FieldType::Float => codec::decode_floats(&column.data, column.count)?
                .into_iter()
                .map(FieldValue::Float)
                .collect(),
            FieldType::Int => codec::decode_ints(&column.data, column.count)?
                .into_iter()
                .map(FieldValue::Int)
                .collect(),
            FieldType::Bool => codec::decode_bools(&column.data, column.count)?
                .into_iter()
                .map(FieldValue::Bool)
                .collect(),
            FieldType::Text => codec::decode_strings(&column.data, column.count)?
                .into_iter()
                .map(FieldValue::Text)
                .collect(),
        };
        let mut values = values.into_iter();
        let column = match &column.present {
            None => values.map(Some).collect(),
            Some(bitmap) => {
                let present = codec::decode_bools(bitmap, self.len)?;
                present
                    .into_iter()
                    .map(|has| if has { values.next() } else { None })
                    .collect()
            }
        };
        Ok(Some(column))
    }

    /// The column of a numeric `field` as floats, without building field values; `None`
    /// when no row has it or it is not numeric.
    pub(crate) fn numbers(&self, field: &str) -> Decoded<Option<Vec<Option<f64>>>> {
        let Some(column) = self.columns.get(field) else {
            return Ok(None);
        };
        let values: Vec<f64> = match column.kind {
            FieldType::Float => codec::decode_floats(&column.data, column.count)?,
            FieldType::Int => codec::decode_ints(&column.data, column.count)?
                .into_iter()
                .map(|v| v as f64)
                .collect(),
            FieldType::Bool | FieldType::Text => return Ok(None),
        };
        Ok(Some(match &column.present {
            None => values.into_iter().map(Some).collect(),
            Some(bitmap) => {
                let mut values = values.into_iter();
                codec::decode_bools(bitmap, self.len)?
                    .into_iter()
                    .map(|has| if has { values.next() } else { None })
                    .collect()
            }
        }))
    }

    /// Every column, decoded.
    pub(crate) fn columns(&self) -> Decoded<BTreeMap<String, Values>> {
        let mut out = BTreeMap::new();
        for name in self.columns.keys() {
            if let Some(values) = self.column(name)? {
                out.insert(name.clone(), values);
            }
        }
        Ok(out)
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        put_uvarint(out, self.len as u64);
        put_bytes(out, &self.timestamps);
        put_uvarint(out, self.columns.len() as u64);
        for (name, column) in &self.columns {
            put_bytes(out, name.as_bytes());
            out.push(column.kind as u8);
            put_uvarint(out, column.count as u64);
            match &column.present {
                None => out.push(0),
                Some(bitmap) => {
                    out.push(1);
                    put_bytes(out, bitmap);
                }
            }
            put_bytes(out, &column.data);
        }
    }

    pub(crate) fn read(reader: &mut Reader<'_>) -> Decoded<Block> {
        let len = reader.len()?;
        let timestamps = reader.bytes()?.to_vec();
        let ts = codec::decode_timestamps(&timestamps, len)?;
        let (&min, &max) = (ts.first().ok_or(Corrupt)?, ts.last().ok_or(Corrupt)?);
        // Reads take rows as sorted and distinct, and each column as one value per row.
        if ts.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(Corrupt);
        }
        let mut columns = BTreeMap::new();
        for _ in 0..reader.len()? {
            let name = reader.string()?;
            let kind = FieldType::from_byte(reader.u8()?)?;
            let count = reader.len()?;
            let present = match reader.u8()? {
                0 => None,
                1 => Some(reader.bytes()?.to_vec()),
                _ => return Err(Corrupt),
            };
            let rows_with_value = match &present {
                None => len,
                Some(bitmap) => codec::decode_bools(bitmap, len)?
                    .into_iter()
                    .filter(|has| *has)
                    .count(),
            };
            if count != rows_with_value {
                return Err(Corrupt);
            }
            let data = reader.bytes()?.to_vec();
            columns.insert(
                name,
                Column {
                    kind,
                    present,
                    count,
                    data,
                },
            );
        }
        Ok(Block {
            len,
            min,
            max,
            timestamps,
            columns,
        })
    }
}

/// Compresses one column; `None` when no row has a value. The column's type is its first
/// value's: writes check that a measurement's field keeps one type.
fn encode_column(values: &Values) -> Option<Column> {
    let present: Vec<&FieldValue> = values.iter().flatten().collect();
    let kind = FieldType::of(present.first()?);
    let data = match kind {
        FieldType::Float => codec::encode_floats(
            &present
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect::<Vec<_>>(),
        ),
        FieldType::Int => codec::encode_ints(
            &present
                .iter()
                .map(|v| match v {
                    FieldValue::Int(i) => *i,
                    _ => 0,
                })
                .collect::<Vec<_>>(),
        ),
        FieldType::Bool => codec::encode_bools(
            &present
                .iter()
                .map(|v| matches!(v, FieldValue::Bool(true)))
                .collect::<Vec<_>>(),
        ),
        FieldType::Text => codec::encode_strings(
            &present
                .iter()
                .map(|v| match v {
                    FieldValue::Text(s) => s.clone(),
                    _ => String::new(),
                })
                .collect::<Vec<_>>(),
        ),
    };
    let all = present.len() == values.len();
    Some(Column {
        kind,
        present: (!all)
            .then(|| codec::encode_bools(&values.iter().map(Option::is_some).collect::<Vec<_>>())),
        count: present.len(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_through_bytes_with_sparse_columns() {
        let ts = vec![-5, 0, 7, 1_000];
        let mut fields = BTreeMap::new();
        fields.insert(
            "f".to_owned(),
            vec![
                Some(FieldValue::Float(-0.0)),
                None,
                Some(FieldValue::Float(f64::INFINITY)),
                Some(FieldValue::Float(2.5)),
            ],
        );
        fields.insert(
            "s".to_owned(),
            vec![None, Some(FieldValue::Text("ünï".into())), None, None],
        );
        fields.insert("never".to_owned(), vec![None; 4]);
        let block = Block::encode(&ts, &fields).unwrap();
        let mut bytes = Vec::new();
        block.write(&mut bytes);
        let read = Block::read(&mut Reader::new(&bytes)).unwrap();
        assert_eq!((read.min, read.max, read.len), (-5, 1_000, 4));
        assert_eq!(read.timestamps().unwrap(), ts);
        fields.remove("never");
        assert_eq!(read.columns().unwrap(), fields);
        assert_eq!(read.column("absent").unwrap(), None);
        assert!(Block::read(&mut Reader::new(&bytes[..bytes.len() - 1])).is_err());
    }

    /// The bytes of a block of `timestamps` with one integer column `n` holding `values`,
    /// claiming `count` values and, when given, the presence bitmap `present`.
    fn block_bytes(
        timestamps: &[i64],
        values: &[i64],
        count: u64,
        present: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut bytes = Vec::new();
        put_uvarint(&mut bytes, timestamps.len() as u64);
        put_bytes(&mut bytes, &codec::encode_timestamps(timestamps));
        put_uvarint(&mut bytes, 1);
        put_bytes(&mut bytes, b"n");
        bytes.push(FieldType::Int as u8);
        put_uvarint(&mut bytes, count);
        match present {
            None => bytes.push(0),
            Some(bitmap) => {
                bytes.push(1);
                put_bytes(&mut bytes, bitmap);
            }
        }
        put_bytes(&mut bytes, &codec::encode_ints(values));
        bytes
    }

    #[test]
    fn blocks_whose_columns_do_not_fit_their_rows_are_corrupt() {
        let good = block_bytes(&[1, 2], &[7, 8], 2, None);
        let block = Block::read(&mut Reader::new(&good)).unwrap();
        assert_eq!(block.column("n").unwrap().unwrap().len(), 2);
        let sparse = block_bytes(&[1, 2], &[7], 1, Some(&[0b10]));
        let block = Block::read(&mut Reader::new(&sparse)).unwrap();
        assert_eq!(
            block.column("n").unwrap().unwrap(),
            vec![None, Some(FieldValue::Int(7))]
        );

        // A full column with fewer or more values than rows.
        for (values, count) in [(&[7][..], 1), (&[7, 8, 9][..], 3)] {
            let bytes = block_bytes(&[1, 2], values, count, None);
            assert!(
                Block::read(&mut Reader::new(&bytes)).is_err(),
                "{count} values"
            );
        }
        // A bitmap naming another number of rows than the values, or of the wrong size.
        for (values, count, bitmap) in [
            (&[7][..], 1, &[0b11][..]),
            (&[7, 8][..], 2, &[0b01][..]),
            (&[7][..], 1, &[0b10, 0][..]),
        ] {
            let bytes = block_bytes(&[1, 2], values, count, Some(bitmap));
            assert!(
                Block::read(&mut Reader::new(&bytes)).is_err(),
                "bitmap {bitmap:?}"
            );
        }
        // Timestamps out of order or repeated.
        for timestamps in [[2, 1], [1, 1]] {
            let bytes = block_bytes(&timestamps, &[7, 8], 2, None);
            assert!(
                Block::read(&mut Reader::new(&bytes)).is_err(),
                "{timestamps:?}"
            );
        }
    }
}
