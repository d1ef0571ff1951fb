//! Integer value types of quantized tensors: `int2` … `int16`, `uint2` … `uint16`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A signed or unsigned integer type of 2..=16 bits. Serialized as `"int8"`, `"uint4"`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QType {
    bits: u8,
    signed: bool,
}

impl QType {
    pub const INT8: QType = QType { bits: 8, signed: true };
    pub const UINT8: QType = QType { bits: 8, signed: false };

    /// A type of `bits` bits; `None` unless `2 <= bits <= 16`.
    pub fn new(bits: u8, signed: bool) -> Option<QType> {
        (2..=16).contains(&bits).then_some(QType { bits, signed })
    }

    pub fn bits(self) -> u8 {
        self.bits
    }

    pub fn signed(self) -> bool {
        self.signed
    }

    /// Smallest representable value.
    pub fn min(self) -> i64 {
        if self.signed {
            -(1i64 << (self.bits - 1))
        } else {
            0
        }
    }

    /// Largest representable value.
    pub fn max(self) -> i64 {
        if self.signed {
            (1i64 << (self.bits - 1)) - 1
        } else {
            (1i64 << self.bits) - 1
        }
    }

    pub fn contains(self, v: i64) -> bool {
        (self.min()..=self.max()).contains(&v)
    }

    /// Saturate `v` to the type's range.
    pub fn saturate(self, v: i64) -> i64 {
        v.clamp(self.min(), self.max())
    }
}

impl fmt::Display for QType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}int{}", if self.signed { "" } else { "u" }, self.bits)
    }
}

impl FromStr for QType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (signed, digits) = match s.strip_prefix("uint") {
            Some(rest) => (false, rest),
            None => match s.strip_prefix("int") {
                Some(rest) => (true, rest),
                None => return Err(format!("unknown integer type `{s}` (expected int2..int16 or uint2..uint16)")),
            },
        };
        digits
            .parse::<u8>()
            .ok()
            .and_then(|b| QType::new(b, signed))
            .ok_or_else(|| format!("unknown integer type `{s}` (expected int2..int16 or uint2..uint16)"))
    }
}

impl TryFrom<String> for QType {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<QType> for String {
    fn from(t: QType) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!((QType::INT8.min(), QType::INT8.max()), (-128, 127));
        assert_eq!((QType::UINT8.min(), QType::UINT8.max()), (0, 255));
        let i2 = QType::new(2, true).unwrap();
        assert_eq!((i2.min(), i2.max()), (-2, 1));
        let u16 = QType::new(16, false).unwrap();
        assert_eq!(u16.max(), 65535);
        assert!(QType::new(1, true).is_none());
        assert!(QType::new(17, false).is_none());
    }

    #[test]
    fn parse_roundtrip() {
        for bits in 2..=16 {
            for signed in [false, true] {
                let t = QType::new(bits, signed).unwrap();
                assert_eq!(t.to_string().parse::<QType>().unwrap(), t);
            }
        }
        assert!("int1".parse::<QType>().is_err());
        assert!("float32".parse::<QType>().is_err());
        assert!("uint".parse::<QType>().is_err());
    }
}
