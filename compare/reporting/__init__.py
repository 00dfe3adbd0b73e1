"""How a sweep is told: findings (sentences from numbers), figures, the report page, dashboards, the attention explorer."""
