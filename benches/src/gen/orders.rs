//! Nested order documents with optional fields: a customer with a nested address, a status,
//! line items, and a coupon or gift flag on some orders only.

use serde_json::{json, Map, Value as Json};

use crate::rng::{Rng, Zipf};

/// Cities customers live in.
pub const CITIES: u64 = 200;

const STATUSES: [&str; 5] = ["placed", "paid", "shipped", "delivered", "returned"];
const TIERS: [&str; 3] = ["bronze", "silver", "gold"];

/// City `i`.
pub fn city(i: u64) -> String {
    format!("city{i:03}")
}

/// The order generator.
pub struct Orders {
    rng: Rng,
    cities: Zipf,
}

impl Default for Orders {
    fn default() -> Self {
        Self::new()
    }
}

impl Orders {
    /// The orders of the fixed seed.
    pub fn new() -> Self {
        Orders {
            rng: Rng::new(0x0DE5),
            cities: Zipf::new(CITIES, 0.7),
        }
    }

    /// Order `n` as a document (call in order 0, 1, 2, …).
    pub fn order(&mut self, n: u64) -> Map<String, Json> {
        let rng = &mut self.rng;
        let city = self.cities.sample(rng);
        let items: Vec<Json> = (0..1 + rng.below(5))
            .map(|_| {
                json!({
                    "sku": format!("SKU-{:05}", rng.below(20_000)),
                    "quantity": 1 + rng.below(4),
                    "price": 100 + rng.below(20_000),
                })
            })
            .collect();
        let total: u64 = items
            .iter()
            .map(|i| i["quantity"].as_u64().unwrap_or(0) * i["price"].as_u64().unwrap_or(0))
            .sum();
        let mut order = json!({
            "customer": {
                "id": rng.below(n / 4 + 10),
                "tier": TIERS[rng.below(3) as usize],
                "address": {"country": format!("C{:02}", city % 20), "city": crate::gen::orders::city(city)},
            },
            "status": STATUSES[rng.below(5) as usize],
            "total": total,
            "items": items,
        });
        if rng.chance(0.3) {
            order["coupon"] =
                json!({"code": format!("SAVE{}", rng.below(50)), "percent": 5 + rng.below(20)});
        }
        if rng.chance(0.1) {
            order["gift"] = json!(true);
        }
        match order {
            Json::Object(map) => map,
            _ => Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_deterministic_nested_and_sometimes_optional() {
        let (mut a, mut b) = (Orders::new(), Orders::new());
        let xs: Vec<_> = (0..200).map(|n| a.order(n)).collect();
        let ys: Vec<_> = (0..200).map(|n| b.order(n)).collect();
        assert_eq!(xs, ys);
        assert!(xs
            .iter()
            .all(|o| o["customer"]["address"]["city"].is_string()));
        let coupons = xs.iter().filter(|o| o.contains_key("coupon")).count();
        assert!(coupons > 20 && coupons < 100, "{coupons}");
    }
}
