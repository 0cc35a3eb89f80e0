//! A product catalog with realistic text: titles and descriptions drawn from a synthetic
//! vocabulary with a Zipf word distribution (as natural language has), categories with a skewed
//! popularity, and prices.

use crate::rng::{Rng, Zipf};

/// Words in the vocabulary.
pub const VOCABULARY: u64 = 5_000;

/// Categories.
pub const CATEGORIES: u64 = 50;

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ne", "ru", "ta", "si", "vo", "be", "da", "fe", "go", "hu", "ji", "pa", "qu",
    "ze", "wo", "xi", "yo", "cha", "tro", "plu", "sna",
];

/// Word `rank` of the vocabulary (rank 0 is the most frequent): distinct for every rank.
pub fn word(rank: u64) -> String {
    let base = SYLLABLES.len() as u64;
    let mut n = rank;
    let mut out = String::new();
    loop {
        out.push_str(SYLLABLES[(n % base) as usize]);
        n /= base;
        if n == 0 {
            break;
        }
        n -= 1;
    }
    out
}

/// Category `i`.
pub fn category(i: u64) -> String {
    format!("cat{i:02}")
}

/// One product.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    /// `p<n>`.
    pub id: String,
    /// A few words.
    pub title: String,
    /// A few dozen words.
    pub description: String,
    /// One of [`CATEGORIES`].
    pub category: String,
    /// 1.00 to 1000.00.
    pub price: f64,
}

/// The catalog generator.
pub struct Catalog {
    rng: Rng,
    words: Zipf,
    categories: Zipf,
}

impl Default for Catalog {
    fn default() -> Self {
        Self::new()
    }
}

impl Catalog {
    /// The catalog of the fixed seed.
    pub fn new() -> Self {
        Catalog {
            rng: Rng::new(0xCA7A),
            words: Zipf::new(VOCABULARY, 0.9),
            categories: Zipf::new(CATEGORIES, 0.8),
        }
    }

    fn text(&mut self, words: u64) -> String {
        (0..words)
            .map(|_| word(self.words.sample(&mut self.rng)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Product `n` (call in order 0, 1, 2, …).
    pub fn product(&mut self, n: u64) -> Product {
        let title_words = 3 + self.rng.below(5);
        let description_words = 15 + self.rng.below(30);
        Product {
            id: format!("p{n}"),
            title: self.text(title_words),
            description: self.text(description_words),
            category: category(self.categories.sample(&mut self.rng)),
            price: (100 + self.rng.below(99_900)) as f64 / 100.0,
        }
    }
}

/// The queries: two mid-frequency words and a popular category, from `seed`.
pub fn queries(count: usize, seed: u64) -> Vec<(String, String)> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let a = word(20 + rng.below(200));
            let b = word(20 + rng.below(200));
            (format!("{a} {b}"), category(rng.below(8)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_distinct_and_products_deterministic() {
        let words: std::collections::BTreeSet<String> = (0..VOCABULARY).map(word).collect();
        assert_eq!(words.len() as u64, VOCABULARY);
        assert!(words
            .iter()
            .all(|w| w.chars().all(|c| c.is_ascii_lowercase())));
        let (mut a, mut b) = (Catalog::new(), Catalog::new());
        assert_eq!(a.product(0), b.product(0));
        assert_eq!(queries(3, 1), queries(3, 1));
    }
}
