"""Pipeline analytics: funnel, velocity, win/loss, bottlenecks, from stage history."""
