-- Reconciliation counts the clicks owned by records at or below each partition's applied mark, and
-- after Redis lost its data it needs each partition's highest offset.
create index clicks_kafka_position_idx on clicks (kafka_partition, kafka_offset);
