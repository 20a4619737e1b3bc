//! What a cosine score means, in words.
//!
//! Scores from different models are not on one scale: all-MiniLM-L6-v2 puts unrelated sentences
//! near 0 and paraphrases above 0.8, while a domain fine-tune can compress everything into
//! 0.4–0.9. These bands are the rule of thumb tutorials teach, for reading one model's scores.

/// A coarse reading of a cosine similarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reading {
    /// Above 0.8: near paraphrases.
    VerySimilar,
    /// 0.5 to 0.8: about the same thing.
    Related,
    /// 0.3 to 0.5: some overlap in topic or wording.
    SomewhatRelated,
    /// Below 0.3: unrelated.
    Unrelated,
}

impl Reading {
    /// Reads a cosine score.
    pub fn of(cosine: f32) -> Reading {
        match cosine {
            c if c > 0.8 => Reading::VerySimilar,
            c if c >= 0.5 => Reading::Related,
            c if c >= 0.3 => Reading::SomewhatRelated,
            _ => Reading::Unrelated,
        }
    }

    /// The reading in words.
    pub fn describe(self) -> &'static str {
        match self {
            Reading::VerySimilar => "very similar (> 0.8)",
            Reading::Related => "related (0.5–0.8)",
            Reading::SomewhatRelated => "somewhat related (0.3–0.5)",
            Reading::Unrelated => "unrelated (< 0.3)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_the_tutorial() {
        assert_eq!(Reading::of(0.95), Reading::VerySimilar);
        assert_eq!(Reading::of(0.8), Reading::Related);
        assert_eq!(Reading::of(0.5), Reading::Related);
        assert_eq!(Reading::of(0.4), Reading::SomewhatRelated);
        assert_eq!(Reading::of(0.29), Reading::Unrelated);
        assert_eq!(Reading::of(-0.2), Reading::Unrelated);
    }
}
