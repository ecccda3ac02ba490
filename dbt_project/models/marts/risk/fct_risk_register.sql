-- 风险登记册: one row per merchant × risk item at as_of (items from int_risk_items_collected),
-- scored probability (0–1) × impact (1–5, from the CNY at stake by var
-- risk_impact_value_floors) × urgency (1–5, var risk_urgency), and levelled high / medium /
-- low by var risk_level_floors.

with items as (
    select
        merchant_id,
        risk_kind,
        risk_type,
        subject_kind,
        subject_code,
        subject_name,
        cast(greatest(0.0, least(1.0, probability)) as double) as probability,
        amount_at_stake,
        cast(urgency as integer) as urgency,
        reason,
        reason_zh
    from {{ ref('int_risk_items_collected') }}
),

scored as (
    select
        *,
        cast({{ risk_impact('amount_at_stake') }} as integer) as impact
    from items
)

select
    scored.merchant_id,
    merchants.merchant_code,
    scored.risk_kind,
    scored.risk_type,
    scored.subject_kind,
    scored.subject_code,
    scored.subject_name,
    scored.probability,
    cast(scored.amount_at_stake as decimal(18, 2)) as amount_at_stake,
    scored.impact,
    scored.urgency,
    cast(scored.probability * scored.impact * scored.urgency as double) as score,
    {{ risk_level('scored.probability * scored.impact * scored.urgency') }} as risk_level,
    scored.reason,
    scored.reason_zh,
    merchants.as_of
from scored
inner join {{ ref('int_merchants_as_of') }} as merchants on merchants.merchant_id = scored.merchant_id
