//! "Did you mean …?" for misspelt keys and names.

/// The candidate closest to `word`, if one is close enough to be a likely typo.
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// `list` as `a, b, c` (or `none` when empty), with ` (did you mean `x`?)` when `word` looks
/// like a typo of one of them.
pub(crate) fn listing(list: &[&str], word: &str) -> String {
    let mut text = if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    };
    if let Some(near) = closest(word, list.iter().copied()) {
        text.push_str(&format!(" (did you mean `{near}`?)"));
    }
    text
}

/// Levenshtein distance, with a transposition of neighbours counting as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    for (i, row) in table.chunks_mut(width).enumerate() {
        if let Some(first) = row.first_mut() {
            *first = i;
        }
    }
    for (j, cell) in table.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[(i - 1) * width + j] + 1)
                .min(table[i * width + j - 1] + 1)
                .min(table[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[(i - 2) * width + j - 2] + 1);
            }
            table[i * width + j] = best;
        }
    }
    table[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        assert_eq!(closest("mian", ["main", "cache"]), Some("main"));
        assert_eq!(closest("entites", ["stores", "entities"]), Some("entities"));
        assert_eq!(closest("tll", ["store", "timeout", "ttl"]), Some("ttl"));
        assert_eq!(closest("zzz", ["main", "cache"]), None);
    }

    #[test]
    fn listing_names_the_candidates() {
        assert_eq!(
            listing(&["main", "cache"], "mian"),
            "main, cache (did you mean `main`?)"
        );
        assert_eq!(listing(&[], "x"), "none");
    }
}
