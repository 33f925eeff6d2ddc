-- CreateIndex
CREATE INDEX "audit_log_action_targetType_targetId_idx" ON "audit_log"("action", "targetType", "targetId");
