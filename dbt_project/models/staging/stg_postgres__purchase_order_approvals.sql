with source as (
    select * from {{ source('raw', 'purchase_order_approvals') }}
)

select
    approval_id,
    purchase_order_id,
    merchant_id,
    level,
    decision,
    approver,
    note,
    decided_at,
    {{ business_date('decided_at') }} as decided_date
from source
