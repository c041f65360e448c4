// purge-uploads runs distribution's upload purger once, now, on the storage a registry config
// names, and prints what it deleted.
//
// The registry runs the same function (registry/storage/purgeuploads.go PurgeUploads) from
// registry/handlers/app.go startUploadPurger, first after a random 0-59 minute jitter: too late
// for a test. tools.registry_builds builds this file inside each distribution source tree it
// builds, so the purger measured is exactly the shipped one.
//
//	purge-uploads <config.yml> <older-than, a Go duration>
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: purge-uploads <config.yml> <older-than>")
		os.Exit(2)
	}
	file, err := os.Open(os.Args[1])
	if err != nil {
		fail(err)
	}
	config, err := configuration.Parse(file)
	if err != nil {
		fail(err)
	}
	age, err := time.ParseDuration(os.Args[2])
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	driver, err := factory.Create(ctx, config.Storage.Type(), config.Storage.Parameters())
	if err != nil {
		fail(err)
	}
	deleted, errs := storage.PurgeUploads(ctx, driver, time.Now().Add(-age), true)
	for _, path := range deleted {
		fmt.Println(path)
	}
	for _, e := range errs {
		fmt.Fprintln(os.Stderr, e)
	}
	if len(errs) > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
