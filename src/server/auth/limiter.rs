//! Sign-in rate limits, per client IP and per account. A keyed `governor` limiter rather than a
//! tower layer: the account key is in the request body, which a layer cannot see.
use crate::domain::AppError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

pub struct LoginLimiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
}

impl LoginLimiter {
    pub fn new(per_ip_per_minute: u32, per_account_per_minute: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: RateLimiter::keyed(quota(per_ip_per_minute)),
            per_account: RateLimiter::keyed(quota(per_account_per_minute)),
        }
    }

    pub fn check(&self, ip: IpAddr, account: &str) -> Result<(), AppError> {
        // Forget idle keys now and then so the maps stay small.
        if self.per_ip.len() > 10_000 || self.per_account.len() > 10_000 {
            self.per_ip.retain_recent();
            self.per_account.retain_recent();
        }
        let now = DefaultClock::default().now();
        let refuse = |wait: std::time::Duration, whom: &str| {
            AppError::too_many_requests(format!(
                "Too many sign-in attempts {whom}; try again in {} seconds",
                wait.as_secs().max(1)
            ))
        };
        self.per_ip
            .check_key(&ip)
            .map_err(|nu| refuse(nu.wait_time_from(now), "from your network"))?;
        self.per_account
            .check_key(&account.trim().to_lowercase())
            .map_err(|nu| refuse(nu.wait_time_from(now), "for this account"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_account_and_ip() {
        let l = LoginLimiter::new(100, 2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(l.check(ip, "a@x.com").is_ok());
        assert!(l.check(ip, "A@x.com ").is_ok());
        assert_eq!(l.check(ip, "a@x.com").unwrap_err().status, 429);
        assert!(l.check(ip, "b@x.com").is_ok());
    }
}
