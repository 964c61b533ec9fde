-- A pool's phone region (issue 13 L): national-format numbers for this pool are read as this
-- region's; NULL: the service's HEADCOUNT_DEFAULT_REGION, else only international numbers parse.
ALTER TABLE pools ADD COLUMN IF NOT EXISTS phone_region TEXT;
