CREATE TABLE "descriptor_sets" (
	"hash" text PRIMARY KEY NOT NULL,
	"descriptors" "bytea" NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "task_types" ALTER COLUMN "descriptors" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "task_types" ADD COLUMN "descriptor_set" text;