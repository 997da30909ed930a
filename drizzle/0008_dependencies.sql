ALTER TABLE "tasks" DROP CONSTRAINT "tasks_state_check";--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "parent_ids" uuid[];--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "pending_parents" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "children_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "on_parent_failure" text DEFAULT 'CANCEL' NOT NULL;--> statement-breakpoint
CREATE INDEX "tasks_parent_ids_idx" ON "tasks" USING gin ("parent_ids") WHERE parent_ids is not null;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_state_check" CHECK (state in ('WAITING', 'QUEUED', 'SCHEDULED', 'RUNNING', 'CANCELLING', 'SUCCEEDED', 'FAILED', 'CANCELLED'));