<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 409 ended: an event, cancel or pause for an instance that has ended. */
class EndedException extends OrbitException
{
}
