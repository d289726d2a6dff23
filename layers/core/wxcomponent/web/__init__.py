"""What HTTP entry points render: plain-text answers, the merchant's pages (HTML)."""
