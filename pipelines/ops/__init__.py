"""Operations: schedules, sensors, alerts, freshness and the Dagster instance ops run."""
