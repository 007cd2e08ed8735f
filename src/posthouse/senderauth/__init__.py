"""Who really sent this message: SPF (`spf`), DKIM (`dkim`), DMARC (`dmarc`), the
Authentication-Results field (`authres`) and all of them together (`results`), plus the
DKIM keys of our own domains (`keys`) and the DNS records to publish (`publish`).
Every DNS question goes through a `posthouse.resolver.Resolver`."""
