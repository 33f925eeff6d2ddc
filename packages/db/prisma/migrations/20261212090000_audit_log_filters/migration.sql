-- CreateIndex
CREATE INDEX "audit_log_action_id_idx" ON "audit_log"("action" text_pattern_ops, "id");

-- CreateIndex
CREATE INDEX "audit_log_actorUsername_id_idx" ON "audit_log"("actorUsername", "id");
