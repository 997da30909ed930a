ALTER TABLE "tasks" ADD COLUMN "submitted_by" text;--> statement-breakpoint
CREATE INDEX "tasks_submitted_by_id_idx" ON "tasks" USING btree ("submitted_by","id") WHERE submitted_by is not null;