<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 501 not_implemented: the sidecar's store cannot do what was asked (a backup of a NATS store). */
class NotImplementedException extends OrbitException
{
}
