//! Vectors as bytes: raw little-endian `f32`, four bytes a component, no header.

/// Encodes a vector as little-endian `f32` bytes.
pub(crate) fn encode_vector(v: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes
}

/// Decodes little-endian `f32` bytes; `None` when the length is not a multiple of four.
pub(crate) fn decode_vector(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_as_little_endian_bytes() {
        let v = vec![1.0f32, -0.5, f32::MIN_POSITIVE, 3.25e7];
        let bytes = encode_vector(&v);
        assert_eq!(&bytes[..4], &[0, 0, 0x80, 0x3f], "1.0 in little-endian");
        assert_eq!(decode_vector(&bytes).unwrap(), v);
        assert!(decode_vector(&bytes[..5]).is_none());
    }
}
