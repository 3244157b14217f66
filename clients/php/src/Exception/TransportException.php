<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** The sidecar could not be reached, or did not answer in time. */
class TransportException extends \RuntimeException
{
}
