"""Inter-agency exchange (信息共享、抄送通报): the outbox written with each decision the law or
the rules say must be copied or notified, the partner agencies' pull feed and receipts, and the
relay that pushes to a message broker when one is configured."""
